"""Judged queries over the sample catalog (S01…S25) and the depositar CKAN corpus (ckan:<name>).

Grades say what a researcher typing the query would want, decided from the records'
content before looking at any ranking: 3 = exactly this, 2 = clearly useful,
1 = related, anything unlisted = not relevant.
"""

from __future__ import annotations

_CORONARY = {f"S0{i}": 3 for i in range(1, 9)}
_HEART = {f"S0{i}": 3 for i in range(1, 10)}
_CORAL = {
    "ckan:ltser-lyudao-coraldiv": 3,
    "ckan:ltser-lyudao-coralbleach": 3,
    "ckan:ltser-lyudao-coralcomm": 3,
    "ckan:ltser-lyudao-fishdiv": 3,
    "ckan:ltser-lyudao-coraljuv": 3,
    "ckan:ltser-lyudao-oceansound": 2,
    "ckan:ltser-lyudao-oceansound-202210": 2,
    "ckan:ltser-lyudao-oceansound-202207": 2,
    "ckan:ltser-lyudao-water": 2,
    "ckan:ltser-lyudao-otolith": 2,
    "ckan:suspended-sediment-from-coastal-construction-leads-to-behavioural-changes-in-algal-reef-fishes": 1,
}
_WATER_QUALITY = {
    "ckan:fs-water-chemistry": 3,
    "ckan:jgl-water-chemistry": 3,
    "ckan:afed4": 3,
    "ckan:ltser-lyudao-stream": 3,
    "ckan:ltser-lyudao-water": 3,
    "ckan:fy_wq": 3,
    "ckan:aeabb": 2,
    "ckan:ltserchanghuaulva": 1,
}
_MRI = {"S10": 3, "S11": 3, "S12": 3, "S13": 3, "S14": 3}

ZH: dict[str, dict[str, int]] = {
    "肺部 CT": {"S15": 3, "S16": 1, "S17": 1, "S18": 1},
    "腦轉移": {"S10": 3, "S11": 1},
    "脑转移": {"S10": 3, "S11": 1},
    "青光眼": {"S20": 3, "S21": 1},
    "眼底照片": {"S20": 3, "S21": 3},
    "冠狀動脈": {**_CORONARY, "S09": 1},
    "肝癌": {"S22": 3},
    "腦部 磁振造影": {**_MRI, "S14": 2},
    "骨折": {"S24": 3},
    "類風濕關節炎": {"S25": 3},
    "珊瑚礁": _CORAL,
    "水質": _WATER_QUALITY,
    "地震": {"ckan:7364f": 3, "ckan:967b1": 3, "ckan:sheltersurvey_2017": 3},
    "氣象監測": {
        "ckan:fs-realtime-weather": 3,
        "ckan:jgl2-realtime-weather": 3,
        "ckan:jgl1-realtime-weather": 3,
        "ckan:ltser-lyudao-weather": 3,
        "ckan:fs-hydro-realtime-weather": 1,
    },
    "衛星影像": {"ckan:satellite": 3, "ckan:ndvi-lst-landsat-7-8": 2, "ckan:drought_events_in_summit": 1},
    "南山公墓": {
        "ckan:2023-nanshan-center-for-gis": 3,
        "ckan:50fa6": 3,
        "ckan:orthoimagery-nanshan-cemetery": 3,
        "ckan:nanshan_2021-10-14_3": 3,
        "ckan:2023-08-05-nanshan-gravesite-panoramic-images-ricoh-theta-z1": 2,
        "ckan:2023-08-05-nanshan-gravesite-images-sony-zv-e10": 2,
    },
    "國立嘉義大學": {
        "ckan:237bc": 3,
        "ckan:ncyu_water_usage": 3,
        "ckan:ncyu_safety_map": 3,
        "ckan:a13b3": 3,
        "ckan:82985": 3,
        "ckan:ncyu_building_info": 3,
    },
    "聲景": {
        "ckan:ltser-lyudao-oceansound": 3,
        "ckan:ltser-lyudao-oceansound-202210": 3,
        "ckan:ltser-lyudao-oceansound-202207": 3,
        "ckan:ltser-lyudao-terresound": 3,
        "ckan:ltser-lyudao-terresoundindex": 3,
        "ckan:ltser-lyudao-birdnetsound": 2,
        "ckan:ltser-lyudao-biosound": 2,
    },
    "電腦斷層": {"S01": 3, "S07": 3, "S08": 3, "S09": 3, "S15": 3, "S19": 3, "S22": 3},
    "胸部 X光": {"S18": 3, "S17": 3, "S24": 1, "S15": 1},
    "長照機構": {"ckan:7364f": 3, "ckan:967b1": 3},
}

EN: dict[str, dict[str, int]] = {
    "lung CT": {"S15": 3, "S16": 1, "S17": 1, "S18": 1},
    "brain metastases": {"S10": 3, "S11": 1},
    "glaucoma fundus": {"S20": 3, "S21": 2},
    "coronary CT angiography": {"S01": 3, "S08": 3, "S07": 2, "S03": 2, "S09": 1},
    "liver cancer": {"S22": 3},
    "MRI": _MRI,
    "X-ray": {"S17": 3, "S18": 3, "S23": 3, "S24": 3, "S25": 3, "S03": 1},
    "compression fractures": {"S24": 3},
    "rheumatoid arthritis hand": {"S25": 3},
    "coral reef": _CORAL,
    "coral bleaching": {
        "ckan:ltser-lyudao-coralbleach": 3,
        "ckan:ltser-lyudao-coraldiv": 1,
        "ckan:ltser-lyudao-coralcomm": 1,
    },
    "Nanshan gravesite images": {
        "ckan:2023-08-05-nanshan-gravesite-panoramic-images-ricoh-theta-z1": 3,
        "ckan:2023-08-05-nanshan-gravesite-images-sony-zv-e10": 3,
        "ckan:orthoimagery-nanshan-cemetery": 2,
        "ckan:nanshan_2021-10-14_3": 2,
        "ckan:2023-nanshan-center-for-gis": 1,
        "ckan:50fa6": 1,
    },
    "PM2.5 sensor": {
        "ckan:pm_data_taiwan_indonesia": 3,
        "ckan:environment_data_in_taipei_during_2002-2020": 1,
        "ckan:ch_aq": 1,
    },
    "drought": {"ckan:drought_events_in_summit": 3},
    "persistent identifier": {"ckan:or2023": 3},
    "COVID-19": {"ckan:web-archives-tw": 3},
    "Taipei environment data": {
        "ckan:environment_data_in_taipei_during_2002-2020": 3,
        "ckan:ndvi-lst-landsat-7-8": 1,
        "ckan:f00fe": 1,
    },
    "spine X-ray": {"S23": 3, "S24": 3},
    "eye": {"S20": 3, "S21": 3},
    "neck lymph nodes": {"S19": 3},
    "vestibular schwannoma": {"S12": 3},
    "heart": _HEART,
    "ultrasound": {"S04": 3},
}
