"""Chinese vocabulary for sandbox.pm: places, people, organisations and project names.

Pure tables and small builders that draw from a caller's `random.Random`; nothing here keeps
state, so the data generator alone decides what is drawn and in which order (determinism).
The lists are ordinary, plausible names; none refers to a real project or company.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# Places. Branches follow the way Chinese contractors organise regions (华东/华中/… 分公司).


@dataclass(frozen=True, slots=True)
class City:
    province: str  # as written on documents: 江苏省, 上海市 (municipalities repeat the city)
    name: str  # short name without 市: 苏州
    districts: tuple[str, ...]
    branch: str  # 分公司 that runs projects there
    weight: int  # how often projects land here (bigger markets get more)

    @property
    def full_name(self) -> str:
        return f"{self.name}市"

    def prefix(self, district: str) -> str:
        """How a project name opens: 合肥市滨湖新区, but 苏州工业园区 (an area, not a 区 of the city)."""
        if district.endswith("园区"):
            return f"{self.name}{district}"
        return f"{self.full_name}{district}"


CITIES: tuple[City, ...] = (
    City("江苏省", "苏州", ("工业园区", "吴中区", "相城区", "姑苏区", "高新区"), "华东分公司", 6),
    City("江苏省", "南京", ("江宁区", "浦口区", "栖霞区", "建邺区", "江北新区"), "华东分公司", 5),
    City("江苏省", "无锡", ("滨湖区", "新吴区", "梁溪区", "锡山区"), "华东分公司", 3),
    City("浙江省", "杭州", ("余杭区", "萧山区", "滨江区", "临平区", "钱塘区"), "华东分公司", 5),
    City("浙江省", "宁波", ("鄞州区", "北仑区", "镇海区", "海曙区"), "华东分公司", 3),
    City("安徽省", "合肥", ("滨湖新区", "蜀山区", "包河区", "经开区", "肥西县"), "华东分公司", 5),
    City("安徽省", "芜湖", ("鸠江区", "弋江区", "湾沚区"), "华东分公司", 2),
    City("上海市", "上海", ("浦东新区", "闵行区", "嘉定区", "松江区", "青浦区"), "华东分公司", 5),
    City("山东省", "济南", ("历下区", "槐荫区", "章丘区", "历城区"), "华北分公司", 3),
    City("山东省", "青岛", ("黄岛区", "城阳区", "崂山区", "即墨区"), "华北分公司", 3),
    City("天津市", "天津", ("滨海新区", "西青区", "津南区", "东丽区"), "华北分公司", 3),
    City("湖北省", "武汉", ("东湖高新区", "江夏区", "汉阳区", "洪山区", "蔡甸区"), "华中分公司", 5),
    City("湖南省", "长沙", ("岳麓区", "雨花区", "望城区", "开福区"), "华中分公司", 4),
    City("河南省", "郑州", ("郑东新区", "金水区", "航空港区", "中原区"), "华中分公司", 4),
    City("四川省", "成都", ("天府新区", "双流区", "郫都区", "龙泉驿区", "新都区"), "西南分公司", 5),
    City("重庆市", "重庆", ("渝北区", "两江新区", "江津区", "沙坪坝区"), "西南分公司", 4),
    City("广东省", "广州", ("番禺区", "黄埔区", "南沙区", "增城区"), "华南分公司", 4),
    City("广东省", "深圳", ("龙岗区", "宝安区", "光明区", "坪山区"), "华南分公司", 4),
    City("广东省", "佛山", ("顺德区", "南海区", "三水区"), "华南分公司", 2),
    City("福建省", "厦门", ("翔安区", "集美区", "湖里区", "同安区"), "华南分公司", 2),
    City("陕西省", "西安", ("高新区", "长安区", "未央区", "雁塔区"), "西北分公司", 3),
)
CITY_WEIGHTS: tuple[int, ...] = tuple(city.weight for city in CITIES)

# Where subcontracted labour companies are registered: the provinces that send most site crews.
LABOUR_HOME_PROVINCES: tuple[str, ...] = (
    "河南",
    "四川",
    "安徽",
    "湖南",
    "江西",
    "重庆",
    "湖北",
    "江苏",
    "贵州",
)

ROADS: tuple[str, ...] = (
    "星湖街", "长江路", "人民路", "科技大道", "学府路", "锦绣大道", "环湖西路", "创新大道", "滨江大道",
    "建设路", "望江路", "东风路", "青年路", "凤凰大道", "丹桂路", "香樟路", "云谷路", "通江大道",
    "金桥路", "迎宾大道", "紫薇路", "明珠大道", "汇川路", "文昌路", "翠微路", "海棠路", "振兴路",
    "新华路", "富民路", "兴港大道", "白云路", "朝阳路", "和平路", "惠民大道", "松涛路", "梧桐路",
)  # fmt: skip
RIVERS: tuple[str, ...] = ("青龙河", "白鹭河", "清水河", "凤凰河", "新运河", "玉带河", "永安河", "南湖")
VILLAGES: tuple[str, ...] = ("张桥", "王庄", "李湾", "姚家", "新河", "东岗", "柳塘", "石桥", "杨庄", "陈巷")
ESTATES: tuple[str, ...] = (
    "星湖", "锦绣", "翡翠", "云栖", "雅苑", "御景", "滨湖", "东方", "紫郡", "润园", "悦澜", "海棠",
)  # fmt: skip
TRADE_NAMES: tuple[str, ...] = (
    "恒信", "鑫诚", "宏达", "华泰", "顺安", "永盛", "广厦", "建邦", "中联", "润丰", "金桥", "铭远",
    "汇通", "瑞祥", "德正", "兴业", "隆基", "天成", "嘉和", "宏图", "博远", "长兴", "盛世", "安泰",
    "晟达", "恒昌", "鼎立", "万达", "福源", "众合", "新锐", "同创", "华晟", "瑞鑫", "宏泰", "聚力",
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# People. Surnames are ordered roughly by frequency so the weighted draw looks like a real roster.

SURNAMES: tuple[str, ...] = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "潘", "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏", "苏", "吕", "丁",
    "任", "卢", "姚", "沈", "钟", "姜", "崔", "谭", "陆", "范", "汪", "廖", "石", "金", "贾", "夏",
)  # fmt: skip
SURNAME_WEIGHTS: tuple[int, ...] = tuple(max(1, 64 - rank) for rank in range(len(SURNAMES)))
GIVEN_ONE: tuple[str, ...] = (
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "华",
    "平", "刚", "鹏", "斌", "波", "辉", "宁", "凯", "峰", "亮", "鑫", "琳", "健", "红", "林", "浩",
)  # fmt: skip
GIVEN_TWO: tuple[str, ...] = (
    "建国", "建华", "志强", "海涛", "晓东", "俊杰", "国平", "文博", "宇航", "浩然", "子涵", "秀英",
    "桂英", "志刚", "永强", "红梅", "丽华", "建军", "晓明", "海燕", "国强", "春生", "德明", "玉兰",
    "立新", "振华", "明亮", "思远", "佳怡", "雨轩", "承志", "卫东", "小龙", "金山", "长林", "会英",
)  # fmt: skip


def person(rng: random.Random) -> str:
    """A Chinese personal name: surname plus a one- or two-character given name."""
    surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    given = rng.choice(GIVEN_ONE) if rng.random() < 0.4 else rng.choice(GIVEN_TWO)
    return surname + given


# ---------------------------------------------------------------------------------------------
# Numbers written the Chinese way (第三十五中学, 第十二项目部).

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 21 → 二十一, 105 → 一百零五 (0 < n < 1000)."""
    if not 0 < n < 1000:
        raise ValueError(f"chinese_number supports 1–999, got {n}")
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    text = ""
    if hundreds:
        text += _DIGITS[hundreds] + "百"
        if rest and tens == 0:
            text += "零"
    if tens:
        # 十一 alone, but 一百一十一 inside a larger number
        text += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    if ones:
        text += _DIGITS[ones]
    return text


# ---------------------------------------------------------------------------------------------
# Project types, their names and their customers (建设单位).

PROJECT_TYPES: tuple[str, ...] = (
    "住宅", "安置房", "学校", "医院", "办公楼", "厂房", "综合管廊", "市政道路", "桥梁", "污水处理厂",
)  # fmt: skip
PROJECT_TYPE_WEIGHTS: tuple[int, ...] = (18, 8, 10, 7, 6, 10, 8, 14, 7, 5)
CIVIL_TYPES: frozenset[str] = frozenset({"综合管廊", "市政道路", "桥梁", "污水处理厂"})

_PHASES = ("一期", "二期", "三期")


def project_name(rng: random.Random, project_type: str, city: City, district: str) -> str:
    """A name in the shape Chinese contractors register projects: place + site + type + 工程/项目."""
    where = city.prefix(district)
    road, road2, road3 = rng.sample(ROADS, 3)
    match project_type:
        case "住宅":
            return rng.choice(
                (
                    f"{where}{road}北侧地块住宅项目（{rng.choice(_PHASES)}）",
                    f"{where}{rng.choice(ESTATES)}花园{rng.choice(_PHASES)}住宅工程",
                    f"{where}{rng.choice(ESTATES)}府商品住宅及配套工程",
                )
            )
        case "安置房":
            return f"{where}{rng.choice(VILLAGES)}安置小区建设工程"
        case "学校":
            return rng.choice(
                (
                    f"{where}第{chinese_number(rng.randint(2, 60))}中学新建工程",
                    f"{where}{road}小学新建工程",
                    f"{where}实验学校扩建工程",
                    f"{city.name}职业技术学院{district}校区{rng.choice(_PHASES)}工程",
                )
            )
        case "医院":
            return rng.choice(
                (
                    f"{city.full_name}第{chinese_number(rng.randint(1, 9))}人民医院{district}院区新建工程",
                    f"{where}妇幼保健院迁建工程",
                    f"{city.full_name}中医院门急诊综合楼工程",
                )
            )
        case "办公楼":
            return rng.choice((f"{where}{road}科技研发中心工程", f"{where}政务服务中心建设工程"))
        case "厂房":
            return rng.choice(
                (
                    f"{where}{road}标准厂房项目（{rng.choice(_PHASES)}）",
                    f"{where}{rng.choice(TRADE_NAMES)}智能制造基地厂房工程",
                )
            )
        case "综合管廊":
            return f"{where}{road}综合管廊工程"
        case "市政道路":
            return rng.choice(
                (
                    f"{where}{road}（{road2}至{road3}段）道路工程",
                    f"{where}{road}提升改造工程",
                )
            )
        case "桥梁":
            return rng.choice(
                (f"{where}{road}跨{rng.choice(RIVERS)}大桥新建工程", f"{where}{rng.choice(RIVERS)}大桥工程")
            )
        case "污水处理厂":
            return f"{where}{rng.choice(VILLAGES)}污水处理厂提标改造工程"
    raise ValueError(f"unknown project type {project_type!r}")


def customer_name(rng: random.Random, project_type: str, city: City, district: str) -> str:
    """The 建设单位 that signs such a project: developers for housing, 城投/交通局 for civil works."""
    trade = rng.choice(TRADE_NAMES)
    options: tuple[str, ...]
    match project_type:
        case "住宅":
            options = (f"{city.name}{trade}房地产开发有限公司", f"{city.name}{trade}置业有限公司")
        case "安置房":
            options = (f"{city.name}安居集团有限公司", f"{city.name}{district}城市建设发展有限公司")
        case "学校":
            options = (f"{city.full_name}{district}教育体育局", f"{city.full_name}教育局")
        case "医院":
            options = (f"{city.full_name}卫生健康委员会", f"{city.name}医疗卫生建设投资有限公司")
        case "办公楼":
            options = (
                f"{city.name}{district}国有资产投资经营有限公司",
                f"{city.full_name}{district}机关事务管理局",
            )
        case "厂房":
            options = (f"{city.name}{district}产业园投资发展有限公司", f"{trade}新能源科技有限公司")
        case "综合管廊" | "污水处理厂":
            options = (f"{city.name}城市建设投资集团有限公司", f"{city.name}城投环境建设有限公司")
        case "市政道路":
            options = (f"{city.full_name}交通运输局", f"{city.name}城市建设投资集团有限公司")
        case "桥梁":
            options = (f"{city.name}交通投资集团有限公司", f"{city.full_name}交通运输局")
        case _:
            raise ValueError(f"unknown project type {project_type!r}")
    return rng.choice(options)


# ---------------------------------------------------------------------------------------------
# Suppliers. The suffix says what the company does, as on a business licence.

SUPPLIER_SUFFIXES: dict[str, tuple[str, ...]] = {
    "labour": ("建筑劳务有限公司", "劳务有限公司", "建筑劳务分包有限公司"),
    "steel": ("钢铁贸易有限公司", "物资有限公司", "钢材贸易有限公司"),
    "concrete": ("商品混凝土有限公司", "新型建材有限公司"),
    "building": ("建材有限公司", "建材贸易有限公司"),
    "formwork": ("木业有限公司", "模板有限公司"),
    "cable": ("电线电缆有限公司", "电缆有限公司"),
    "pipe": ("管业有限公司", "管道科技有限公司"),
    "waterproof": ("防水材料有限公司", "防水科技有限公司"),
    "asphalt": ("路桥材料有限公司", "沥青混凝土有限公司"),
    "machinery": ("机械设备租赁有限公司", "工程机械租赁有限公司", "起重设备安装有限公司"),
}


def supplier_name(rng: random.Random, kind: str, city: City) -> str:
    """A supplier of the given kind; labour companies come from the crews' home provinces."""
    home = rng.choice(LABOUR_HOME_PROVINCES) if kind == "labour" else city.name
    return f"{home}{rng.choice(TRADE_NAMES)}{rng.choice(SUPPLIER_SUFFIXES[kind])}"


# ---------------------------------------------------------------------------------------------
# The contractor itself (总承包方): the buyer on received invoices, the seller on issued ones.

CONTRACTOR_NAME = "华建恒信建设集团有限公司"

# Administrative-division codes (GB/T 2260) of the cities above, for 统一社会信用代码 and invoices.
CITY_CODES: dict[str, str] = {
    "苏州": "320500", "南京": "320100", "无锡": "320200", "杭州": "330100", "宁波": "330200",
    "合肥": "340100", "芜湖": "340200", "上海": "310100", "济南": "370100", "青岛": "370200",
    "天津": "120100", "武汉": "420100", "长沙": "430100", "郑州": "410100", "成都": "510100",
    "重庆": "500100", "广州": "440100", "深圳": "440300", "佛山": "440600", "厦门": "350200",
    "西安": "610100",
}  # fmt: skip

# Counties that send many site workers, by home province (codes as printed in ID numbers, which
# keep the code of the year of issue even after a county became a district).
HOME_COUNTIES: dict[str, tuple[str, ...]] = {
    "河南": ("411323", "411722", "412726", "411526", "410526"),
    "四川": ("511621", "513030", "510923", "511123", "513722"),
    "安徽": ("341221", "341225", "341322", "341222"),
    "湖南": ("430524", "431224", "430921"),
    "江西": ("360732", "361127", "360730"),
    "重庆": ("500235", "500236", "500238"),
    "湖北": ("421125", "421127", "420983"),
    "江苏": ("320923", "321323", "320724"),
    "贵州": ("520221", "522423", "522121"),
}  # fmt: skip

# Given names written with characters outside GBK (GB18030 only): real rosters have a few, and
# they are what breaks a GBK-only export. U+4DAE and U+2C35A.
RARE_GIVEN: tuple[str, ...] = ("䶮", "𬭚", "子䶮", "晓𬭚")


def worker_name(rng: random.Random, rare_share: float = 0.005) -> str:
    """A site worker's name; about one in two hundred has a character that GBK cannot encode."""
    if rng.random() < rare_share:
        return rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + rng.choice(RARE_GIVEN)
    return person(rng)


# Workers' own debit cards (UnionPay BINs of the banks that serve their home counties).
WORKER_BANKS: tuple[tuple[str, str], ...] = (
    ("中国农业银行", "622848"),
    ("中国建设银行", "621700"),
    ("中国工商银行", "622202"),
    ("中国邮政储蓄银行", "621799"),
    ("中国银行", "621661"),
    ("农村商业银行", "621449"),
)
WORKER_BANK_WEIGHTS: tuple[int, ...] = (30, 20, 15, 20, 5, 10)

# Companies' settlement banks; branches are named after the company's city.
COMPANY_BANKS: tuple[tuple[str, str, int], ...] = (  # name, account prefix, account length
    ("中国建设银行股份有限公司", "3205", 20),
    ("中国工商银行股份有限公司", "1102", 19),
    ("中国农业银行股份有限公司", "1055", 19),
    ("中国银行股份有限公司", "4598", 12),
    ("招商银行股份有限公司", "5129", 15),
    ("交通银行股份有限公司", "3250", 21),
)

# 工种 of the people in each crew (班组) of catalog.TRADES.
CREW_TRADES: dict[str, str] = {
    "钢筋班组": "钢筋工",
    "木工班组": "木工",
    "混凝土班组": "混凝土工",
    "砌筑班组": "砌筑工",
    "架子工班组": "架子工",
    "水电安装班组": "水电工",
    "抹灰班组": "抹灰工",
    "防水班组": "防水工",
    "土方班组": "普工",
    "普工班组": "普工",
    "管道班组": "管道工",
    "路面班组": "筑路工",
}

# Professional subcontracts (专业分包) by kind of works, with the suffix of the subcontractor.
SPECIALIST_WORKS: dict[str, tuple[tuple[str, str], ...]] = {
    "building": (
        ("钢结构工程", "钢结构工程有限公司"),
        ("幕墙工程", "幕墙装饰工程有限公司"),
        ("消防工程", "消防工程有限公司"),
        ("电梯安装工程", "电梯工程有限公司"),
        ("智能化工程", "智能科技有限公司"),
        ("桩基工程", "基础工程有限公司"),
    ),
    "civil": (
        ("交通标志标线工程", "交通设施工程有限公司"),
        ("路灯照明工程", "照明工程有限公司"),
        ("绿化工程", "园林绿化工程有限公司"),
        ("桩基工程", "基础工程有限公司"),
        ("预应力张拉工程", "预应力工程有限公司"),
    ),
}


def specialist_name(rng: random.Random, suffix: str, city: City) -> str:
    return f"{city.name}{rng.choice(TRADE_NAMES)}{suffix}"


def company_in(rng: random.Random, city: City, suffix: str) -> str:
    """A local company with the given business suffix (检测, 物流, 办公用品 …)."""
    return f"{city.name}{rng.choice(TRADE_NAMES)}{suffix}"
