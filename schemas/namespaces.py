"""RDF namespaces fairgate reads and writes (rdflib ``Namespace`` terms only, no I/O).

``FG`` holds the imaging-programme properties that no standard vocabulary has yet.
"""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import RDF, RDFS, XSD

# Open namespaces: rdflib's closed DCAT/DCTERMS lists predate DCAT 3 (dcat:version, DatasetSeries).
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
PROV = Namespace("http://www.w3.org/ns/prov#")
ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
DCATAP = Namespace("http://data.europa.eu/r5r/")
HEALTHDCATAP = Namespace("http://healthdataportal.eu/ns/health#")
DPV = Namespace("https://w3id.org/dpv#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
DQV = Namespace("http://www.w3.org/ns/dqv#")
SCHEMA = Namespace("http://schema.org/")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
CV = Namespace("http://data.europa.eu/m8g/")
GEODCATAP = Namespace("http://data.europa.eu/930/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
FG = Namespace("https://w3id.org/fairgate/ns#")
#: MLDCAT-AP 3 (SEMIC): ``MachineLearningModel``, ``trainedOn``, ``hasInputModality`` …
MLDCAT = Namespace("http://data.europa.eu/it6/")
#: RDF Data Cube: MLDCAT-AP's quality measurements name their dataset with ``qb:dataSet``.
QB = Namespace("http://purl.org/linked-data/cube#")

#: Prefixes used when fairgate writes Turtle and JSON-LD.
PREFIXES: dict[str, Namespace] = {
    "dcat": DCAT,
    "dct": DCT,
    "dcatap": DCATAP,
    "healthdcatap": HEALTHDCATAP,
    "dpv": DPV,
    "adms": ADMS,
    "vcard": VCARD,
    "foaf": FOAF,
    "spdx": SPDX,
    "dqv": DQV,
    "skos": SKOS,
    "rdfs": Namespace(str(RDFS)),
    "rdf": Namespace(str(RDF)),
    "xsd": Namespace(str(XSD)),
    "owl": OWL,
    "prov": PROV,
    "odrl": ODRL,
    "locn": LOCN,
    "csvw": CSVW,
    "cv": CV,
    "geodcatap": GEODCATAP,
    "eli": ELI,
    "hydra": HYDRA,
    "schema": SCHEMA,
    "fg": FG,
    "mldcat": MLDCAT,
    "qb": QB,
}

__all__ = [
    "ADMS",
    "CSVW",
    "CV",
    "DCAT",
    "DCATAP",
    "DCT",
    "DPV",
    "DQV",
    "ELI",
    "FG",
    "FOAF",
    "GEODCATAP",
    "HEALTHDCATAP",
    "HYDRA",
    "LOCN",
    "MLDCAT",
    "ODRL",
    "OWL",
    "PREFIXES",
    "PROV",
    "QB",
    "RDF",
    "RDFS",
    "SCHEMA",
    "SKOS",
    "SPDX",
    "VCARD",
    "XSD",
]
