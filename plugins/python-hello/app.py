"""`python-hello`: the Python example plugin, built with componentize-py.

Its one screen, `main`, lists a page of the tenant's customers through the `customers`
capability, each personal field as the policy lets the staff member see it: in clear, masked
(shown as masked) or withheld (shown as withheld). It declares no actions, events or jobs, and
answers those handlers with `not-found`.
"""

from typing import List, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import guest
from wit_world.imports import customers, types, ui

PER_PAGE = 10
MAX_PAGE = 10_000

REGIONS = {
    customers.Region.CN: "CN",
    customers.Region.EU: "EU",
    customers.Region.US: "US",
    customers.Region.OTHER: "OTHER",
}


def tr(en: str, zh: Optional[str] = None) -> types.Label:
    """A label in English and, when given, Simplified Chinese."""
    return types.Label(en=en, zh_hans=zh)


def personal(field: customers.PersonalField) -> ui.Cell:
    """A personal field as a cell that keeps what the policy did to it."""
    if isinstance(field, customers.PersonalField_Clear):
        return ui.Cell_Text(field.value)
    if isinstance(field, customers.PersonalField_Masked):
        return ui.Cell_Masked(field.value)
    if isinstance(field, customers.PersonalField_Redacted):
        return ui.Cell_Redacted()
    return ui.Cell_Empty()


def restricted(field: customers.PersonalField) -> bool:
    return isinstance(
        field, (customers.PersonalField_Masked, customers.PersonalField_Redacted)
    )


def param(params: List[types.Param], name: str) -> Optional[str]:
    return next((p.value for p in params if p.name == name), None)


def invalid(field: str, en: str, zh: str) -> Err:
    return Err(types.Error_Invalid([types.FieldError(field, tr(en, zh))]))


def column(key: str, title: types.Label, align: ui.Align = ui.Align.START) -> ui.Column:
    return ui.Column(key=key, title=title, align=align)


def main_screen(page: customers.CustomerPage) -> ui.Screen:
    """The main screen for one page of customers (pure: no host calls)."""
    rows = [
        ui.Row(
            id=c.id,
            cells=[
                personal(c.name),
                personal(c.email),
                personal(c.phone),
                ui.Cell_Text(REGIONS.get(c.region, "OTHER")),
                ui.Cell_Tags(list(c.tags)),
            ],
        )
        for c in page.items
    ]
    hidden = sum(
        1
        for c in page.items
        if restricted(c.name) or restricted(c.email) or restricted(c.phone)
    )
    table = ui.Table(
        id="customers",
        title=None,
        columns=[
            column("name", tr("Name", "姓名")),
            column("email", tr("Email", "电子邮件")),
            column("phone", tr("Phone", "电话")),
            column("region", tr("Region", "地区")),
            column("tags", tr("Tags", "标签")),
        ],
        rows=rows,
        row_actions=[],
        paging=ui.Paging(
            page=page.page,
            per_page=page.per_page,
            total=page.total,
            has_more=page.page * page.per_page < page.total,
            param="page",
        ),
        empty_text=tr("No customers here yet.", "这里还没有客户。"),
    )
    blocks: List[ui.Block] = [
        ui.Block_Heading(ui.Heading(text=tr("Customers", "客户"), level=2)),
        ui.Block_Paragraph(
            ui.Paragraph(
                text=tr(
                    "Listed by a Python plugin through the customers capability, as the "
                    "policy lets you see them.",
                    "由 Python 插件通过 customers 能力列出，按策略允许您查看的方式显示。",
                ),
                tone=ui.Tone.NEUTRAL,
            )
        ),
        ui.Block_Stats(
            [
                ui.Stat(
                    title=tr("Customers", "客户数"),
                    value=ui.Cell_Integer(page.total),
                    note=None,
                    tone=ui.Tone.NEUTRAL,
                ),
                ui.Stat(
                    title=tr("Restricted on this page", "本页受限"),
                    value=ui.Cell_Integer(hidden),
                    note=None,
                    tone=ui.Tone.NEUTRAL,
                ),
            ]
        ),
        ui.Block_Table(table),
    ]
    if hidden:
        blocks.append(
            ui.Block_Paragraph(
                ui.Paragraph(
                    text=tr(
                        "Some fields are masked or withheld by policy.",
                        "部分字段已按策略遮蔽或隐藏。",
                    ),
                    tone=ui.Tone.INFO,
                )
            )
        )
    return ui.Screen(title=tr("Hello from Python", "来自 Python 的问候"), blocks=blocks)


class Guest(exports.Guest):
    def manifest(self) -> guest.PluginManifest:
        return guest.PluginManifest(
            name="python-hello",
            version="0.1.0",
            title=tr("Hello from Python", "来自 Python 的问候"),
            description=tr(
                "An example plugin written in Python: lists customers as the policy lets "
                "you see them.",
                "用 Python 编写的示例插件：按策略允许您查看的方式列出客户。",
            ),
            capabilities=[
                guest.CapabilityRequest(
                    capability=guest.Capability.CUSTOMERS,
                    reason=tr("Lists customers on its screen", "在其页面上列出客户"),
                )
            ],
            screens=[
                guest.ScreenDecl(
                    name="main",
                    title=tr("Hello from Python", "来自 Python 的问候"),
                    in_menu=True,
                )
            ],
            actions=[],
            subscriptions=[],
            jobs=[],
            collections=[],
        )

    def render(self, request: guest.ScreenRequest) -> ui.Screen:
        if request.screen != "main":
            raise Err(types.Error_NotFound())
        raw = param(request.params, "page")
        if raw is None or raw == "":
            number = 1
        elif raw.isdigit() and 1 <= int(raw) <= MAX_PAGE:
            number = int(raw)
        else:
            raise invalid("page", "is not a page number", "不是有效的页码")
        # An error of the host call (e.g. `denied`) is raised as `Err` and passed on as it is.
        page = customers.search(
            customers.SearchQuery(region=None, tags=[], page=number, per_page=PER_PAGE)
        )
        return main_screen(page)

    def act(self, request: guest.ActionRequest) -> guest.ActionOutcome:
        # No actions are declared, so the host never forwards one; answer as for any unknown.
        raise Err(types.Error_NotFound())

    def on_event(self, event: guest.IncomingEvent) -> None:
        # No subscriptions: nothing to do (and nothing to retry).
        return None

    def run_job(self, request: guest.JobRequest) -> guest.JobReport:
        # No jobs are declared.
        raise Err(types.Error_NotFound())
