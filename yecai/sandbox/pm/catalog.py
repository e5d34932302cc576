"""What construction sites spend money on: labour trades, materials and machines, with market prices.

The three tables feed the cost records of sandbox.pm (人工费, 材料费, 机械使用费). Prices are
tax-inclusive list prices as suppliers quote them (元, 2024–2026 levels); the generator derives the
tax-exclusive unit price the way cost systems do, which is where 4-decimal unit prices come from.
Quantities are ranges in the unit's own precision (吨 to 0.001, 立方米 to 0.01, …).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

# Which projects use an item: building works (房建), civil works (市政/路桥/管廊) or both.
UsedBy = Literal["building", "civil", "all"]


@dataclass(frozen=True, slots=True)
class Trade:
    """A labour crew kind (劳务班组) and its daily rate (日单价, 元/工日, tax-exclusive)."""

    crew: str
    works: tuple[str, ...]
    rate_low: int
    rate_high: int
    used_by: UsedBy


@dataclass(frozen=True, slots=True)
class MaterialItem:
    """A material as it appears on a delivery note (送货单)."""

    name: str
    spec: str
    unit: str
    price_low: Decimal  # tax-inclusive, 元 per unit
    price_high: Decimal
    quantity_low: Decimal  # per delivery, before scaling by project size
    quantity_high: Decimal
    scale: int  # decimals the quantity is recorded with
    supplier_kind: str  # key of names.SUPPLIER_SUFFIXES
    used_by: UsedBy
    weight: int  # how often it is delivered compared with other items

    @property
    def description(self) -> str:
        return f"{self.name} {self.spec}"


@dataclass(frozen=True, slots=True)
class MachineItem:
    """A machine hired by the shift (台班) and its tax-inclusive shift price."""

    name: str
    model: str
    price_low: int
    price_high: int
    used_by: UsedBy


TRADES: tuple[Trade, ...] = (
    Trade("钢筋班组", ("钢筋制作绑扎", "柱墙钢筋绑扎", "梁板钢筋绑扎", "钢筋加工"), 360, 430, "all"),
    Trade("木工班组", ("模板支设", "模板拆除", "梁板模板安装"), 380, 450, "all"),
    Trade("混凝土班组", ("混凝土浇筑", "混凝土养护", "楼板混凝土浇筑"), 320, 380, "all"),
    Trade("砌筑班组", ("砌体砌筑", "二次结构砌筑"), 350, 420, "building"),
    Trade("架子工班组", ("脚手架搭设", "脚手架拆除", "悬挑架搭设"), 360, 430, "building"),
    Trade("水电安装班组", ("水电预埋", "线管敷设", "给排水管道安装"), 350, 420, "building"),
    Trade("抹灰班组", ("内墙抹灰", "外墙抹灰"), 340, 410, "building"),
    Trade("防水班组", ("地下室防水施工", "屋面防水施工"), 330, 400, "all"),
    Trade("土方班组", ("土方开挖配合", "基坑回填", "场地平整"), 300, 360, "all"),
    Trade("普工班组", ("场内清理", "材料转运", "文明施工维护"), 280, 330, "all"),
    Trade("管道班组", ("管道安装", "检查井砌筑", "闭水试验配合"), 350, 420, "civil"),
    Trade("路面班组", ("基层施工", "沥青摊铺配合", "路缘石安装"), 320, 380, "civil"),
)


def _material(
    name: str,
    spec: str,
    unit: str,
    price: tuple[str, str],
    quantity: tuple[str, str],
    scale: int,
    supplier_kind: str,
    used_by: UsedBy,
    weight: int,
) -> MaterialItem:
    return MaterialItem(
        name,
        spec,
        unit,
        Decimal(price[0]),
        Decimal(price[1]),
        Decimal(quantity[0]),
        Decimal(quantity[1]),
        scale,
        supplier_kind,
        used_by,
        weight,
    )


MATERIALS: tuple[MaterialItem, ...] = (
    _material("钢筋", "HRB400E Φ25", "吨", ("3650", "4250"), ("2", "25"), 3, "steel", "all", 8),
    _material("钢筋", "HRB400E Φ16", "吨", ("3700", "4300"), ("1.5", "20"), 3, "steel", "all", 6),
    _material("盘螺", "HRB400E Φ8", "吨", ("3800", "4400"), ("1", "10"), 3, "steel", "building", 4),
    _material("商品混凝土", "C30", "立方米", ("400", "500"), ("10", "180"), 2, "concrete", "all", 9),
    _material("商品混凝土", "C35 P6", "立方米", ("430", "540"), ("10", "150"), 2, "concrete", "all", 6),
    _material("商品混凝土", "C15", "立方米", ("350", "420"), ("5", "60"), 2, "concrete", "all", 3),
    _material("水泥", "P·O 42.5", "吨", ("380", "520"), ("5", "40"), 3, "building", "all", 3),
    _material("中砂", "细度模数2.3–3.0", "立方米", ("120", "185"), ("10", "100"), 2, "building", "all", 4),
    _material("碎石", "5–31.5mm", "立方米", ("110", "170"), ("10", "120"), 2, "building", "all", 4),
    _material(
        "加气混凝土砌块",
        "B06 600×240×200",
        "立方米",
        ("260", "340"),
        ("5", "60"),
        2,
        "building",
        "building",
        4,
    ),
    _material("预拌砂浆", "DM M7.5", "吨", ("300", "380"), ("3", "30"), 3, "building", "building", 3),
    _material("木模板", "1830×915×15mm", "张", ("48", "75"), ("50", "500"), 0, "formwork", "building", 4),
    _material("方木", "50×100mm", "立方米", ("1850", "2450"), ("1", "12"), 3, "formwork", "building", 3),
    _material(
        "电力电缆", "YJV-0.6/1kV 4×185+1×95", "米", ("280", "420"), ("50", "400"), 1, "cable", "all", 2
    ),
    _material("铜芯电线", "BV-2.5mm²", "米", ("2.60", "3.90"), ("500", "3000"), 0, "cable", "building", 2),
    _material("镀锌钢管", "DN100", "米", ("48", "72"), ("30", "300"), 1, "pipe", "building", 2),
    _material("PVC-U排水管", "DN110", "米", ("18", "32"), ("30", "300"), 1, "pipe", "building", 2),
    _material(
        "SBS改性沥青防水卷材", "3mm", "平方米", ("26", "42"), ("200", "2000"), 2, "waterproof", "all", 2
    ),
    _material("沥青混凝土", "AC-13C", "吨", ("560", "760"), ("30", "300"), 3, "asphalt", "civil", 5),
    _material(
        "水泥稳定碎石", "5%水泥剂量", "立方米", ("150", "210"), ("50", "500"), 2, "building", "civil", 5
    ),
    _material("球墨铸铁管", "DN300 K9", "米", ("260", "380"), ("20", "200"), 1, "pipe", "civil", 3),
    _material("HDPE双壁波纹管", "DN500 SN8", "米", ("150", "230"), ("20", "200"), 1, "pipe", "civil", 3),
)

MACHINES: tuple[MachineItem, ...] = (
    MachineItem("塔式起重机", "QTZ80", 1000, 1400, "building"),
    MachineItem("施工升降机", "SC200/200", 500, 750, "building"),
    MachineItem("汽车起重机", "25t", 1800, 2600, "all"),
    MachineItem("履带式挖掘机", "PC200", 1300, 1800, "all"),
    MachineItem("混凝土泵车", "52m", 3600, 5000, "all"),
    MachineItem("装载机", "ZL50", 900, 1300, "all"),
    MachineItem("自卸汽车", "15t", 800, 1200, "civil"),
    MachineItem("振动压路机", "20t", 1200, 1700, "civil"),
    MachineItem("沥青摊铺机", "9m", 3500, 4500, "civil"),
    MachineItem("旋挖钻机", "SR285", 5200, 7500, "civil"),
    MachineItem("履带起重机", "50t", 3000, 4200, "civil"),
)


def for_works(used_by: UsedBy, civil: bool) -> bool:
    """Whether an item marked `used_by` belongs on a civil (True) or a building (False) project."""
    return used_by == "all" or used_by == ("civil" if civil else "building")
