"""The contract bill of quantities (工程量清单, GB 50500) of a project.

Item codes have 12 digits: 2 工程分类 (01 房屋建筑与装饰, 03 通用安装, 04 市政) + 2 专业 + 2 分部 +
3 分项 + 3 清单 (001, 002 … within the project). Building projects use 01/03 items, civil works
04 items. 综合单价 are 2024–2026 market levels; quantities are chosen so the 合价 of all items is
80–90 % of the tax-exclusive contract price (the rest is 措施费, 规费 and 暂列金额).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from yecai.sandbox.pm.models import CENT, Project
from yecai.sandbox.pm.plan import VAT_SERVICES
from yecai.sandbox.pm.projects import is_civil
from yecai.sandbox.pm.records import BoqItem
from yecai.sandbox.pm.seeding import later

# GB/T 50500-2024 replaced GB 50500-2013 for contracts tendered from 2025-09-01 on.
NEW_EDITION_FROM = date(2025, 9, 1)
_SCALES = {"m2": 2, "m3": 2, "m": 2, "t": 3, "个": 0, "座": 0, "台": 0}


@dataclass(frozen=True, slots=True)
class CatalogItem:
    code9: str  # the national 9 digits; the project adds 001, 002 …
    section: str  # 分部工程
    name: str
    unit: str
    feature: str  # 项目特征描述
    price_low: int  # 综合单价, 元
    price_high: int
    weight: int  # share of the bill it typically takes


def _item(*fields: str | int) -> CatalogItem:
    code9, section, name, unit, feature, low, high, weight = fields
    return CatalogItem(
        str(code9), str(section), str(name), str(unit), str(feature), int(low), int(high), int(weight)
    )


_EARTH = "土石方工程"
_CONCRETE = "混凝土及钢筋混凝土工程"
_MEASURES = "措施项目"

BUILDING_ITEMS: tuple[CatalogItem, ...] = (
    _item("010101001", _EARTH, "平整场地", "m2", "1.土壤类别：综合 2.弃土运距：投标人自行考虑", 2, 6, 1),
    _item("010101002", _EARTH, "挖一般土方", "m3", "1.土壤类别：三类土 2.挖土深度：6m以内", 18, 35, 3),
    _item("010101004", _EARTH, "挖基坑土方", "m3", "1.土壤类别：三类土 2.挖土深度：4m以内", 25, 45, 2),
    _item("010103001", _EARTH, "回填方", "m3", "1.密实度要求：≥0.94 2.填方材料品种：素土", 20, 40, 2),
    _item(
        "010302001",
        "桩基工程",
        "泥浆护壁成孔灌注桩",
        "m3",
        "1.桩径：800mm 2.混凝土强度等级：C35",
        1100,
        1600,
        5,
    ),
    _item(
        "010402001", "砌筑工程", "砌块墙", "m3", "1.蒸压加气混凝土砌块B06 2.墙厚200mm 3.DM M7.5", 480, 650, 5
    ),
    _item("010501001", _CONCRETE, "垫层", "m3", "混凝土强度等级：C15", 450, 560, 1),
    _item("010501004", _CONCRETE, "满堂基础", "m3", "混凝土强度等级：C35 P6", 560, 680, 6),
    _item("010502001", _CONCRETE, "矩形柱", "m3", "混凝土强度等级：C35", 620, 780, 5),
    _item("010503002", _CONCRETE, "矩形梁", "m3", "混凝土强度等级：C30", 580, 720, 4),
    _item("010504001", _CONCRETE, "直形墙", "m3", "混凝土强度等级：C35", 590, 740, 5),
    _item("010505001", _CONCRETE, "有梁板", "m3", "混凝土强度等级：C30", 560, 700, 8),
    _item("010505001", _CONCRETE, "有梁板", "m3", "混凝土强度等级：C35（地下室顶板）", 590, 730, 3),
    _item("010506001", _CONCRETE, "直形楼梯", "m2", "混凝土强度等级：C30", 180, 260, 1),
    _item("010515001", _CONCRETE, "现浇构件钢筋", "t", "HRB400E Φ10以上", 5200, 6300, 15),
    _item("010516003", _CONCRETE, "机械连接", "个", "直螺纹套筒 Φ25", 12, 25, 1),
    _item("010801001", "门窗工程", "木质门", "m2", "成品木质夹板门", 450, 800, 2),
    _item("010807001", "门窗工程", "金属（塑钢、断桥）窗", "m2", "断桥铝合金窗 6+12A+6中空玻璃", 550, 950, 4),
    _item("010902001", "屋面及防水工程", "屋面卷材防水", "m2", "SBS改性沥青防水卷材3mm+3mm", 65, 110, 2),
    _item("010904001", "屋面及防水工程", "楼（地）面卷材防水", "m2", "SBS改性沥青防水卷材3mm", 45, 80, 1),
    _item("011001001", "保温、隔热、防腐工程", "保温隔热屋面", "m2", "挤塑聚苯板 60mm", 55, 95, 1),
    _item("011101001", "楼地面装饰工程", "水泥砂浆楼地面", "m2", "20mm厚1:2.5水泥砂浆", 25, 45, 2),
    _item("011102003", "楼地面装饰工程", "块料楼地面", "m2", "800×800防滑地砖", 120, 200, 3),
    _item("011201001", "墙、柱面装饰与隔断、幕墙工程", "墙面一般抹灰", "m2", "混合砂浆 20mm", 25, 42, 3),
    _item("011301001", "天棚工程", "天棚抹灰", "m2", "混合砂浆 10mm", 22, 38, 1),
    _item("011407001", "油漆、涂料、裱糊工程", "墙面喷刷涂料", "m2", "内墙乳胶漆两遍", 18, 38, 2),
    _item("030411001", "电气设备安装工程", "配管", "m", "JDG20 暗配", 12, 25, 1),
    _item("030411004", "电气设备安装工程", "配线", "m", "BV-2.5mm² 管内穿线", 3, 6, 1),
    _item("031001006", "给排水、采暖、燃气工程", "塑料管", "m", "PP-R DN25 热熔连接", 25, 45, 1),
    _item("011701001", _MEASURES, "综合脚手架", "m2", "建筑结构形式：框架", 28, 50, 3),
    _item("011702001", _MEASURES, "基础（模板）", "m2", "复合木模板", 45, 70, 1),
    _item("011702014", _MEASURES, "有梁板（模板）", "m2", "复合木模板 支撑高度3.6m内", 60, 95, 3),
    _item("011703001", _MEASURES, "垂直运输", "m2", "檐高60m以内", 25, 45, 2),
)

CIVIL_ITEMS: tuple[CatalogItem, ...] = (
    _item("040101001", _EARTH, "挖一般土方", "m3", "1.土壤类别：三类土 2.挖土深度：4m以内", 18, 32, 3),
    _item("040101002", _EARTH, "挖沟槽土方", "m3", "1.土壤类别：三类土 2.挖土深度：3m以内", 22, 40, 3),
    _item("040103001", _EARTH, "回填方", "m3", "密实度要求：≥0.95", 20, 45, 2),
    _item("040202001", "道路工程", "路床（槽）整形", "m2", "压实度≥95%", 2, 5, 1),
    _item("040202015", "道路工程", "水泥稳定碎（砾）石", "m2", "厚度36cm 水泥剂量5%", 55, 85, 6),
    _item("040203006", "道路工程", "沥青混凝土", "m2", "AC-13C 细粒式 4cm", 55, 95, 5),
    _item("040203006", "道路工程", "沥青混凝土", "m2", "AC-20C 中粒式 6cm", 80, 130, 5),
    _item("040204002", "道路工程", "人行道块料铺设", "m2", "透水砖 200×100×60", 120, 200, 2),
    _item("040204004", "道路工程", "安砌侧（平、缘）石", "m", "花岗岩侧石 15×30×100", 90, 160, 2),
    _item("040301004", "桥涵工程", "泥浆护壁成孔灌注桩", "m3", "桩径1.2m C30", 1200, 1800, 6),
    _item("040303003", "桥涵工程", "混凝土承台", "m3", "C35", 700, 900, 3),
    _item("040303005", "桥涵工程", "混凝土墩（台）身", "m3", "C40", 900, 1200, 3),
    _item("040304001", "桥涵工程", "预制混凝土梁", "m3", "C50 预应力混凝土小箱梁", 2800, 3800, 4),
    _item("040309004", "桥涵工程", "橡胶支座", "个", "GYZ 350×77", 800, 1800, 1),
    _item("040501001", "管网工程", "混凝土管", "m", "DN800 Ⅱ级钢筋混凝土管 承插口", 600, 1000, 4),
    _item("040501004", "管网工程", "塑料管", "m", "HDPE双壁波纹管 DN500 SN8", 250, 420, 3),
    _item("040504001", "管网工程", "砌筑井", "座", "检查井 Φ1000 井深3m", 3500, 6500, 2),
    _item("040504009", "管网工程", "雨水口", "座", "单箅平箅式", 1500, 2800, 1),
    _item("040901001", "钢筋工程", "现浇构件钢筋", "t", "HRB400E", 5300, 6300, 10),
    _item("041102001", _MEASURES, "垫层模板", "m2", "组合钢模板", 40, 70, 1),
    _item("041101001", _MEASURES, "墙面脚手架", "m2", "双排钢管脚手架", 15, 30, 1),
)


def edition_for(signed: date) -> str:
    return "GB/T50500-2024" if signed >= NEW_EDITION_FROM else "GB50500-2013"


def make_boq(rng: random.Random, project: Project, signed: date, contract_created: datetime) -> list[BoqItem]:
    """The BOQ of one project, imported in one batch a few days after the contract was registered."""
    catalog = CIVIL_ITEMS if is_civil(project) else BUILDING_ITEMS
    count = rng.randint(min(15, len(catalog)), len(catalog))
    chosen = sorted(rng.sample(range(len(catalog)), count))
    target = project.contract_amount / (1 + VAT_SERVICES) * rng.randint(80, 90) / 100
    shares = [catalog[i].weight * rng.randint(70, 130) for i in chosen]
    total_share = sum(shares)
    stamp = later(rng, contract_created, 1, 3)
    edition = edition_for(signed)
    items: list[BoqItem] = []
    serials: dict[str, int] = {}
    for number, (index, share) in enumerate(zip(chosen, shares, strict=True), start=1):
        entry = catalog[index]
        serials[entry.code9] = serials.get(entry.code9, 0) + 1
        price = Decimal(rng.randint(entry.price_low * 100, entry.price_high * 100)).scaleb(-2)
        scale = Decimal(1).scaleb(-_SCALES[entry.unit])
        quantity = max(scale, (target * share / total_share / price).quantize(scale, ROUND_HALF_UP))
        items.append(
            BoqItem(
                boq_id=f"QD-{project.project_code}-{number:04d}",
                project_code=project.project_code,
                item_code=f"{entry.code9}{serials[entry.code9]:03d}",
                item_name=entry.name,
                feature_desc=entry.feature,
                section_name=entry.section,
                unit=entry.unit,
                quantity=quantity,
                unit_price=price,
                amount=(quantity * price).quantize(CENT, ROUND_HALF_UP),
                edition=edition,
                created_at=stamp,
                updated_at=stamp,
            )
        )
    return items


def quantity_scale(unit: str) -> Decimal:
    """The precision quantities of `unit` are measured in."""
    return Decimal(1).scaleb(-_SCALES.get(unit, 2))
