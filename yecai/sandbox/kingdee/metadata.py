"""QueryBusinessInfo (元数据查询): a form's entities and fields, straight from forms.yaml.

Clients use it to discover a tenant's keys — the `FDETAILID__*` dimension keys of GL_VOUCHER, custom
`F_…` fields (§6.7, §7.2). The answer carries the metadata under `Result.BusinessInfo` (as a stub
modelled on real answers does) and again as `Result.NeedReturnData` (the key of the doc template);
its field attributes (`FieldType`, `MustInput`, `LookUpObject`, table names) are inferred [INF].
"""

from __future__ import annotations

from typing import Any

from yecai.sandbox.kingdee.envelopes import Problem, response_status
from yecai.sandbox.kingdee.forms import Entity, Field, Form, FormRegistry
from yecai.sandbox.kingdee.references import FLEX_PREFIX
from yecai.sandbox.kingdee.views import LOCALE_ID, property_name

FIELD_TYPES = {
    "text": "TextField",
    "int": "IntegerField",
    "decimal": "DecimalField",
    "date": "DateField",
    "datetime": "DateTimeField",
    "bool": "CheckBoxField",
    "status": "ComboField",
    "ref": "BaseDataField",
    "flex": "FlexField",
}


def business_info(registry: FormRegistry, data: dict[str, Any]) -> dict[str, Any]:
    """The QueryBusinessInfo service: `{"FormId": …}` → entity/field metadata."""
    form_id = str(next((v for k, v in data.items() if str(k).lower() == "formid"), "") or "").strip()
    if not form_id:
        return {"Result": {"ResponseStatus": response_status([Problem.of("form_id_empty")])}}
    form = registry.get(form_id)
    if form is None:
        return {
            "Result": {"ResponseStatus": response_status([Problem.of("form_not_exist", form_id=form_id)])}
        }
    info = describe(registry, form)
    return {"Result": {"ResponseStatus": response_status([]), "BusinessInfo": info, "NeedReturnData": info}}


def describe(registry: FormRegistry, form: Form) -> dict[str, Any]:
    table = "T_" + form.form_id.upper()
    header = {
        "Key": "FBillHead",
        "EntityType": "Header",
        "TableName": table,
        "PkFieldName": form.pk,
        "Fields": [_field(registry, field) for field in form.fields.values()],
    }
    entities = [_entity(registry, table, entity) for entity in form.entities.values()]
    return {
        "Id": form.form_id,
        "Name": [{"Key": LOCALE_ID, "Value": form.name}],
        "PkFieldName": form.pk,
        "BillNoField": form.number,
        "NumberFormat": form.number_format,
        "Header": header,
        "Entrys": [header, *entities],
    }


def _entity(registry: FormRegistry, table: str, entity: Entity) -> dict[str, Any]:
    return {
        "Key": entity.key,
        "EntityType": "SubHeader" if entity.single else "Entry",
        "PropertyName": property_name(entity.key),
        "TableName": f"{table}_{property_name(entity.key).upper()}",
        "PkFieldName": entity.pk,
        "SeqFieldKey": entity.seq,
        "Fields": [_field(registry, field) for field in entity.fields.values()],
    }


def _field(registry: FormRegistry, field: Field) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Key": field.key,
        "Name": [{"Key": LOCALE_ID, "Value": field.caption}],
        "PropertyName": property_name(field.key),
        "FieldType": "ItemClassField" if field.polymorphic else FIELD_TYPES[field.kind],
        "MustInput": field.required,
        "IsSystem": field.system,
    }
    if field.kind == "ref":
        out["LookUpObject"] = None if field.polymorphic else field.form
        if field.polymorphic:
            out["ItemClassTypeField"] = field.type_field
            out["LookUpObjects"] = list(field.forms)
    if field.values:
        out["Items"] = list(field.values)
    if field.kind == "flex":
        out["FlexItems"] = [
            {
                "Key": FLEX_PREFIX + dim.key,
                "FlexNumber": dim.number,
                "Name": [{"Key": LOCALE_ID, "Value": dim.name}],
                "LookUpObject": dim.form,
            }
            for dim in registry.dimensions.values()
        ]
    return out
