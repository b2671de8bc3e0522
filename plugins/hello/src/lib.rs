//! `hello`: the example plugin. Its main screen lists the tenant's customers through the
//! `customers` capability (masked and withheld fields shown as such), filters them by region, and
//! offers one row action, "Say hello", which records a note interaction on the customer.

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{customers, log};

pub struct Hello;

const PER_PAGE: u32 = 10;

impl Plugin for Hello {
    fn manifest() -> Manifest {
        ManifestBuilder::new("hello", env!("CARGO_PKG_VERSION"), tr!("Hello", "你好"))
            .description(tr!(
                "An example plugin: lists customers and says hello to them.",
                "示例插件：列出客户并向他们问好。"
            ))
            .capability(
                Capability::Customers,
                tr!(
                    "Lists customers and records a note when you say hello",
                    "列出客户，并在问好时记录一条备注"
                ),
            )
            .capability(
                Capability::Log,
                tr!("Logs what it did (ids only)", "记录操作日志（仅含编号）"),
            )
            .screen("main", tr!("Hello", "你好"), true)
            .action("filter", tr!("Filter", "筛选"), false)
            .action("greet", tr!("Say hello", "问好"), true)
            .build()
    }

    fn render(request: ScreenRequest) -> Result<Screen, Error> {
        if request.screen != "main" {
            return Err(Error::NotFound);
        }
        let page = request.params.parse::<u32>("page")?.unwrap_or(1).max(1);
        let region = match request.params.value("region") {
            Some(r) if !r.is_empty() => Some(parse_region(r)?),
            _ => None,
        };
        let result = customers::search(&customers::SearchQuery {
            region,
            tags: Vec::new(),
            page,
            per_page: PER_PAGE,
        })?;
        Ok(main_screen(&result, region))
    }

    fn act(request: ActionRequest) -> Result<ActionOutcome, Error> {
        match request.action.as_str() {
            "filter" => {
                let region = request.inputs.value("region").unwrap_or_default();
                if !region.is_empty() {
                    parse_region(region)?;
                }
                Ok(ActionOutcome {
                    notice: None,
                    next: Next::Navigate(ScreenRef::to("main").param("region", region)),
                })
            }
            "greet" => {
                let id = request.row.as_deref().ok_or(Error::NotFound)?;
                let customer = customers::get(id)?;
                customers::add_interaction(
                    &customer.id,
                    &customers::NewInteraction {
                        kind: customers::InteractionKind::Note,
                        summary: Some("Said hello from the hello plugin".into()),
                    },
                )?;
                log::log(
                    log::Level::Info,
                    &format!("said hello to customer {}", customer.id),
                );
                let name = customer.name.shown().unwrap_or("—").to_string();
                Ok(refresh(
                    Tone::Success,
                    tr!("Said hello to {}.", "已向 {} 问好。", name),
                ))
            }
            _ => Err(Error::NotFound),
        }
    }
}

crm_plugin_sdk::export_plugin!(Hello);

const REGIONS: [(&str, Region); 4] = [
    ("CN", Region::Cn),
    ("EU", Region::Eu),
    ("US", Region::Us),
    ("OTHER", Region::Other),
];

fn parse_region(code: &str) -> Result<Region, Error> {
    REGIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, r)| *r)
        .ok_or_else(|| invalid_field("region", tr!("is not a known region", "不是已知地区")))
}

fn region_code(region: Region) -> &'static str {
    REGIONS
        .iter()
        .find(|(_, r)| *r == region)
        .map_or("OTHER", |(c, _)| c)
}

/// The main screen for one page of customers (pure: tested natively).
pub fn main_screen(result: &customers::CustomerPage, region: Option<Region>) -> Screen {
    let restricted = result
        .items
        .iter()
        .filter(|c| c.name.is_restricted() || c.email.is_restricted())
        .count();
    let table = TableBuilder::new("customers")
        .column("name", tr!("Name", "姓名"))
        .column("email", tr!("Email", "电子邮件"))
        .column("region", tr!("Region", "地区"))
        .column("tags", tr!("Tags", "标签"))
        .column("updated", tr!("Updated", "更新时间"))
        .rows(&result.items, |c: &Customer| {
            (
                c.id.clone(),
                vec![
                    cell::personal(&c.name),
                    cell::personal(&c.email),
                    cell::text(region_code(c.region)),
                    cell::tags(c.tags.iter().cloned()),
                    cell::time(c.updated_at),
                ],
            )
        })
        .row_action("greet", tr!("Say hello", "问好"))
        .paging(result.page, result.per_page, Some(result.total))
        .empty_text(tr!("No customers here yet.", "这里还没有客户。"));
    let choices = std::iter::once(("", tr!("All regions", "全部地区")))
        .chain(REGIONS.iter().map(|(c, _)| (*c, en(*c))));
    let mut screen = ScreenBuilder::new(tr!("Hello", "你好"))
        .heading(tr!("Customers", "客户"))
        .text(tr!(
            "Listed through the customers capability, as the policy lets you see them.",
            "通过 customers 能力列出，按策略允许您查看的方式显示。"
        ))
        .stat(
            tr!("Customers", "客户数"),
            cell::integer(result.total as i64),
        )
        .stat(
            tr!("Restricted on this page", "本页受限"),
            cell::integer(restricted as i64),
        )
        .form(
            FormBuilder::new("filter", "filter", tr!("Filter", "筛选")).field(
                FieldBuilder::select("region", tr!("Region", "地区"), choices)
                    .value(region.map_or("", region_code)),
            ),
        )
        .table(table);
    if restricted > 0 {
        screen = screen.notice(
            Tone::Info,
            tr!(
                "Some fields are masked or withheld by policy.",
                "部分字段已按策略遮蔽或隐藏。"
            ),
        );
    }
    screen.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_plugin_sdk::Block;

    fn customer(id: &str, name: PersonalField) -> Customer {
        Customer {
            id: id.into(),
            name,
            email: PersonalField::Masked("a***@example.com".into()),
            phone: PersonalField::Redacted,
            address: PersonalField::Empty,
            birth_date: PersonalField::Empty,
            notes: PersonalField::Empty,
            region: Region::Eu,
            tags: vec!["vip".into()],
            consents: Vec::new(),
            created_at: 0,
            updated_at: 1,
        }
    }

    #[test]
    fn manifest_asks_for_customers_and_log() {
        let m = Hello::manifest();
        assert_eq!(m.name, "hello");
        let caps: Vec<_> = m.capabilities.iter().map(|c| c.capability.name()).collect();
        assert_eq!(caps, ["customers", "log"]);
        assert_eq!(m.screens[0].name, "main");
    }

    #[test]
    fn main_screen_lists_customers_with_a_row_action() {
        let page = customers::CustomerPage {
            items: vec![customer("c1", PersonalField::Clear("Ada".into()))],
            page: 1,
            per_page: PER_PAGE,
            total: 11,
        };
        let s = main_screen(&page, Some(Region::Eu));
        let table = s
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Table(t) => Some(t),
                _ => None,
            })
            .expect("a table");
        assert_eq!(table.rows[0].id, "c1");
        assert_eq!(table.rows[0].cells[0], Cell::Text("Ada".into()));
        assert_eq!(
            table.rows[0].cells[1],
            Cell::Masked("a***@example.com".into())
        );
        assert_eq!(table.rows[0].cells[2], Cell::Text("EU".into()));
        assert_eq!(table.row_actions[0].action, "greet");
        assert!(table.paging.as_ref().unwrap().has_more);
        assert!(matches!(s.blocks.last(), Some(Block::Paragraph(p)) if p.tone == Tone::Info));
    }

    #[test]
    fn unknown_region_is_invalid() {
        assert!(parse_region("MARS").is_err());
        assert_eq!(region_code(Region::Cn), "CN");
    }
}
