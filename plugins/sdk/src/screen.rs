//! Builders for screens and their blocks.
//!
//! ```
//! use crm_plugin_sdk::prelude::*;
//! use crm_plugin_sdk::screen::cell;
//!
//! let screen = ScreenBuilder::new(tr!("Customers", "客户"))
//!     .heading(tr!("Customers", "客户"))
//!     .stat(tr!("Total", "总数"), cell::integer(1000))
//!     .table(
//!         TableBuilder::new("customers")
//!             .column("name", tr!("Name", "姓名"))
//!             .column("region", tr!("Region", "地区"))
//!             .row("id-1", [cell::text("Ada"), cell::text("EU")])
//!             .row_action("greet", tr!("Greet", "问候"))
//!             .paging(1, 20, Some(1000)),
//!     )
//!     .build();
//! assert_eq!(screen.blocks.len(), 3);
//! ```

use crate::customers::PersonalField;
use crate::{
    ActionOutcome, Align, Block, Button, ButtonTarget, Cell, Chart, ChartKind, Choice, Column,
    Field, FieldKind, Form, Heading, KeyValue, Label, Next, Notice, Paging, Paragraph, Param, Row,
    RowAction, Rule, Screen, ScreenRef, Series, Stat, Table, Tone,
};

/// Builds a [`Screen`] block by block.
#[derive(Debug, Clone)]
pub struct ScreenBuilder(Screen);

impl ScreenBuilder {
    pub fn new(title: impl Into<Label>) -> Self {
        Self(Screen {
            title: title.into(),
            blocks: Vec::new(),
        })
    }

    /// Adds any block.
    pub fn block(mut self, block: Block) -> Self {
        self.0.blocks.push(block);
        self
    }

    /// A level-2 heading (the screen title is level 1).
    pub fn heading(self, text: impl Into<Label>) -> Self {
        self.heading_at(2, text)
    }

    /// A heading at `level` (1 to 3; other values are clamped).
    pub fn heading_at(self, level: u8, text: impl Into<Label>) -> Self {
        self.block(Block::Heading(Heading {
            text: text.into(),
            level: level.clamp(1, 3),
        }))
    }

    /// A paragraph.
    pub fn text(self, text: impl Into<Label>) -> Self {
        self.notice(Tone::Neutral, text)
    }

    /// A paragraph with a tone (info, success, warning, danger): a notice.
    pub fn notice(self, tone: Tone, text: impl Into<Label>) -> Self {
        self.block(Block::Paragraph(Paragraph {
            text: text.into(),
            tone,
        }))
    }

    /// A key-value list.
    pub fn key_values(self, items: impl IntoIterator<Item = (Label, Cell)>) -> Self {
        self.block(Block::KeyValues(
            items
                .into_iter()
                .map(|(key, value)| KeyValue { key, value })
                .collect(),
        ))
    }

    /// A single figure; consecutive `stat` calls share one row of figures.
    pub fn stat(self, title: impl Into<Label>, value: Cell) -> Self {
        self.stat_with(Stat {
            title: title.into(),
            value,
            note: None,
            tone: Tone::Neutral,
        })
    }

    /// A figure with every part given; joins the previous row of figures if there is one.
    pub fn stat_with(mut self, stat: Stat) -> Self {
        if let Some(Block::Stats(row)) = self.0.blocks.last_mut() {
            row.push(stat);
            return self;
        }
        self.block(Block::Stats(vec![stat]))
    }

    pub fn table(self, table: TableBuilder) -> Self {
        self.block(Block::Table(table.build()))
    }

    pub fn form(self, form: FormBuilder) -> Self {
        self.block(Block::Form(form.build()))
    }

    /// A chart: one value per x label in each series.
    pub fn chart(
        self,
        kind: ChartKind,
        title: impl Into<Label>,
        x_labels: impl IntoIterator<Item = impl Into<String>>,
        series: impl IntoIterator<Item = (Label, Vec<Option<f64>>)>,
    ) -> Self {
        self.block(Block::Chart(Chart {
            title: title.into(),
            kind,
            x_labels: x_labels.into_iter().map(Into::into).collect(),
            series: series
                .into_iter()
                .map(|(name, values)| Series { name, values })
                .collect(),
        }))
    }

    /// A button; consecutive `button` calls share one row of buttons.
    pub fn button(mut self, button: ButtonBuilder) -> Self {
        let button = button.build();
        if let Some(Block::Actions(row)) = self.0.blocks.last_mut() {
            row.push(button);
            return self;
        }
        self.block(Block::Actions(vec![button]))
    }

    pub fn build(self) -> Screen {
        self.0
    }
}

/// Builds a [`Table`]: columns first, then rows with one cell per column.
#[derive(Debug, Clone)]
pub struct TableBuilder(Table);

impl TableBuilder {
    pub fn new(id: impl Into<String>) -> Self {
        Self(Table {
            id: id.into(),
            title: None,
            columns: Vec::new(),
            rows: Vec::new(),
            row_actions: Vec::new(),
            paging: None,
            empty_text: None,
        })
    }

    pub fn title(mut self, title: impl Into<Label>) -> Self {
        self.0.title = Some(title.into());
        self
    }

    /// A left-aligned column.
    pub fn column(self, key: impl Into<String>, title: impl Into<Label>) -> Self {
        self.column_aligned(key, title, Align::Start)
    }

    /// A right-aligned column (for numbers and money).
    pub fn numeric_column(self, key: impl Into<String>, title: impl Into<Label>) -> Self {
        self.column_aligned(key, title, Align::End)
    }

    pub fn column_aligned(
        mut self,
        key: impl Into<String>,
        title: impl Into<Label>,
        align: Align,
    ) -> Self {
        self.0.columns.push(Column {
            key: key.into(),
            title: title.into(),
            align,
        });
        self
    }

    /// A row. Missing cells are filled with `empty`; extra cells are dropped when built.
    pub fn row(mut self, id: impl Into<String>, cells: impl IntoIterator<Item = Cell>) -> Self {
        self.0.rows.push(Row {
            id: id.into(),
            cells: cells.into_iter().collect(),
        });
        self
    }

    /// Rows from any iterator, one closure call each: `(row id, cells)`.
    pub fn rows<T>(
        mut self,
        items: impl IntoIterator<Item = T>,
        f: impl Fn(T) -> (String, Vec<Cell>),
    ) -> Self {
        for item in items {
            let (id, cells) = f(item);
            self = self.row(id, cells);
        }
        self
    }

    /// A button on every row, calling `act` with `action` and the row's id.
    pub fn row_action(self, action: impl Into<String>, text: impl Into<Label>) -> Self {
        self.row_action_with(RowAction {
            action: action.into(),
            text: text.into(),
            tone: Tone::Neutral,
            confirm: None,
        })
    }

    pub fn row_action_with(mut self, action: RowAction) -> Self {
        self.0.row_actions.push(action);
        self
    }

    /// Paging through the screen parameter `page`.
    pub fn paging(self, page: u32, per_page: u32, total: Option<u64>) -> Self {
        let has_more = total.is_some_and(|t| u64::from(page) * u64::from(per_page) < t);
        self.paging_with(Paging {
            page,
            per_page,
            total,
            has_more,
            param: "page".into(),
        })
    }

    pub fn paging_with(mut self, paging: Paging) -> Self {
        self.0.paging = Some(paging);
        self
    }

    pub fn empty_text(mut self, text: impl Into<Label>) -> Self {
        self.0.empty_text = Some(text.into());
        self
    }

    pub fn build(mut self) -> Table {
        let n = self.0.columns.len();
        for row in &mut self.0.rows {
            row.cells.resize(n, Cell::Empty);
        }
        self.0
    }
}

/// Builds a [`Form`] that submits to an action.
#[derive(Debug, Clone)]
pub struct FormBuilder(Form);

impl FormBuilder {
    pub fn new(id: impl Into<String>, action: impl Into<String>, submit: impl Into<Label>) -> Self {
        Self(Form {
            id: id.into(),
            action: action.into(),
            title: None,
            fields: Vec::new(),
            submit: submit.into(),
            errors: Vec::new(),
        })
    }

    pub fn title(mut self, title: impl Into<Label>) -> Self {
        self.0.title = Some(title.into());
        self
    }

    pub fn field(mut self, field: FieldBuilder) -> Self {
        self.0.fields.push(field.build());
        self
    }

    /// An error about the whole form.
    pub fn error(mut self, message: impl Into<Label>) -> Self {
        self.0.errors.push(message.into());
        self
    }

    /// Puts each field error of `error` on its field (unknown fields become form errors), and
    /// keeps the submitted `inputs` as the fields' values: the form, shown again after `act`
    /// refused it.
    pub fn with_errors(mut self, error: &crate::Error, inputs: &[Param]) -> Self {
        use crate::errors::ParamsExt;
        for field in &mut self.0.fields {
            if let Some(v) = inputs.value(&field.name) {
                field.value = Some(v.to_string());
            }
        }
        for fe in error.field_errors() {
            match self.0.fields.iter_mut().find(|f| f.name == fe.field) {
                Some(f) => f.error = Some(fe.message.clone()),
                None => self.0.errors.push(fe.message.clone()),
            }
        }
        self
    }

    pub fn build(self) -> Form {
        self.0
    }
}

/// Builds a form [`Field`].
#[derive(Debug, Clone)]
pub struct FieldBuilder(Field);

impl FieldBuilder {
    pub fn new(name: impl Into<String>, text: impl Into<Label>, kind: FieldKind) -> Self {
        Self(Field {
            name: name.into(),
            text: text.into(),
            kind,
            required: false,
            rules: Vec::new(),
            value: None,
            help: None,
            error: None,
        })
    }

    pub fn text(name: impl Into<String>, text: impl Into<Label>) -> Self {
        Self::new(name, text, FieldKind::Text)
    }

    pub fn multiline(name: impl Into<String>, text: impl Into<Label>) -> Self {
        Self::new(name, text, FieldKind::Multiline)
    }

    pub fn email(name: impl Into<String>, text: impl Into<Label>) -> Self {
        Self::new(name, text, FieldKind::Email)
    }

    pub fn integer(name: impl Into<String>, text: impl Into<Label>) -> Self {
        Self::new(name, text, FieldKind::Integer)
    }

    pub fn date(name: impl Into<String>, text: impl Into<Label>) -> Self {
        Self::new(name, text, FieldKind::Date)
    }

    pub fn checkbox(name: impl Into<String>, text: impl Into<Label>) -> Self {
        Self::new(name, text, FieldKind::Checkbox)
    }

    /// A select from `(value, text)` choices.
    pub fn select(
        name: impl Into<String>,
        text: impl Into<Label>,
        choices: impl IntoIterator<Item = (impl Into<String>, Label)>,
    ) -> Self {
        Self::new(name, text, FieldKind::Select(choices_of(choices)))
    }

    pub fn multi_select(
        name: impl Into<String>,
        text: impl Into<Label>,
        choices: impl IntoIterator<Item = (impl Into<String>, Label)>,
    ) -> Self {
        Self::new(name, text, FieldKind::MultiSelect(choices_of(choices)))
    }

    /// A hidden field carrying `value` back to `act`.
    pub fn hidden(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(name, Label::en(""), FieldKind::Hidden).value(value)
    }

    pub fn required(mut self) -> Self {
        self.0.required = true;
        self
    }

    pub fn rule(mut self, rule: Rule) -> Self {
        self.0.rules.push(rule);
        self
    }

    pub fn min_length(self, n: u32) -> Self {
        self.rule(Rule::MinLength(n))
    }

    pub fn max_length(self, n: u32) -> Self {
        self.rule(Rule::MaxLength(n))
    }

    /// The number is within `min..=max`.
    pub fn range(self, min: f64, max: f64) -> Self {
        self.rule(Rule::Min(min)).rule(Rule::Max(max))
    }

    pub fn pattern(self, regex: impl Into<String>) -> Self {
        self.rule(Rule::Pattern(regex.into()))
    }

    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.0.value = Some(value.into());
        self
    }

    pub fn help(mut self, help: impl Into<Label>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    pub fn error(mut self, error: impl Into<Label>) -> Self {
        self.0.error = Some(error.into());
        self
    }

    pub fn build(self) -> Field {
        self.0
    }
}

fn choices_of(choices: impl IntoIterator<Item = (impl Into<String>, Label)>) -> Vec<Choice> {
    choices
        .into_iter()
        .map(|(value, text)| Choice {
            value: value.into(),
            text,
        })
        .collect()
}

/// Builds a [`Button`].
#[derive(Debug, Clone)]
pub struct ButtonBuilder(Button);

impl ButtonBuilder {
    /// A button that calls `act` with `action`.
    pub fn action(action: impl Into<String>, text: impl Into<Label>) -> Self {
        Self::with_target(ButtonTarget::Action(action.into()), text)
    }

    /// A button that opens another screen of the plugin.
    pub fn screen(target: ScreenRef, text: impl Into<Label>) -> Self {
        Self::with_target(ButtonTarget::Screen(target), text)
    }

    fn with_target(target: ButtonTarget, text: impl Into<Label>) -> Self {
        Self(Button {
            text: text.into(),
            target,
            params: Vec::new(),
            tone: Tone::Neutral,
            confirm: None,
        })
    }

    /// An input the action receives.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.params.push(crate::errors::param(name, value));
        self
    }

    pub fn tone(mut self, tone: Tone) -> Self {
        self.0.tone = tone;
        self
    }

    /// Ask this question before the action runs.
    pub fn confirm(mut self, question: impl Into<Label>) -> Self {
        self.0.confirm = Some(question.into());
        self
    }

    pub fn build(self) -> Button {
        self.0
    }
}

impl ScreenRef {
    /// A screen of the plugin, without parameters.
    pub fn to(screen: impl Into<String>) -> Self {
        Self {
            screen: screen.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push(crate::errors::param(name, value));
        self
    }
}

/// An outcome that shows the origin screen again, with a notice.
pub fn refresh(tone: Tone, text: impl Into<Label>) -> ActionOutcome {
    ActionOutcome {
        notice: Some(notice(tone, text)),
        next: Next::Refresh,
    }
}

/// A notice.
pub fn notice(tone: Tone, text: impl Into<Label>) -> Notice {
    Notice {
        text: text.into(),
        tone,
    }
}

/// Making [`Cell`]s.
pub mod cell {
    use super::*;

    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn label(l: impl Into<Label>) -> Cell {
        Cell::Label(l.into())
    }

    pub fn integer(n: i64) -> Cell {
        Cell::Integer(n)
    }

    pub fn decimal(n: f64) -> Cell {
        Cell::Decimal(n)
    }

    /// `minor` units of `currency`, e.g. `money(1999, "CNY")` for ¥19.99.
    pub fn money(minor: i64, currency: impl Into<String>) -> Cell {
        Cell::Money(crate::Money {
            minor,
            currency: currency.into(),
        })
    }

    /// An instant in milliseconds since the epoch.
    pub fn time(ms: i64) -> Cell {
        Cell::Time(ms)
    }

    pub fn tags(tags: impl IntoIterator<Item = impl Into<String>>) -> Cell {
        Cell::Tags(tags.into_iter().map(Into::into).collect())
    }

    pub fn badge(tone: Tone, text: impl Into<Label>) -> Cell {
        Cell::Badge(crate::Badge {
            text: text.into(),
            tone,
        })
    }

    pub fn link(text: impl Into<Label>, target: ScreenRef) -> Cell {
        Cell::Link(crate::Link {
            text: text.into(),
            target,
        })
    }

    /// A customer's personal field as the policy let the plugin see it: clear values as text,
    /// masked ones as masked, withheld ones as withheld.
    pub fn personal(field: &PersonalField) -> Cell {
        Cell::from(field)
    }
}

impl From<&PersonalField> for Cell {
    fn from(field: &PersonalField) -> Self {
        match field {
            PersonalField::Clear(v) => Cell::Text(v.clone()),
            PersonalField::Masked(v) => Cell::Masked(v.clone()),
            PersonalField::Redacted => Cell::Redacted,
            PersonalField::Empty => Cell::Empty,
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.into())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Integer(n)
    }
}

impl From<f64> for Cell {
    fn from(n: f64) -> Self {
        Cell::Decimal(n)
    }
}

impl From<bool> for Cell {
    fn from(b: bool) -> Self {
        Cell::Boolean(b)
    }
}

impl From<Label> for Cell {
    fn from(l: Label) -> Self {
        Cell::Label(l)
    }
}

impl PersonalField {
    /// The value, only when it is in clear (never a masked rendering).
    pub fn clear(&self) -> Option<&str> {
        match self {
            PersonalField::Clear(v) => Some(v),
            _ => None,
        }
    }

    /// Something to show: the clear or masked value; `None` when withheld or empty.
    pub fn shown(&self) -> Option<&str> {
        match self {
            PersonalField::Clear(v) | PersonalField::Masked(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the policy masked or withheld this field.
    pub fn is_restricted(&self) -> bool {
        matches!(self, PersonalField::Masked(_) | PersonalField::Redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{en, tr};

    #[test]
    fn table_rows_are_padded_to_the_columns() {
        let t = TableBuilder::new("t")
            .column("a", en("A"))
            .numeric_column("b", en("B"))
            .row("1", [cell::text("x")])
            .row("2", [cell::text("y"), cell::integer(2), cell::integer(3)])
            .row_action("open", tr!("Open", "打开"))
            .paging(2, 10, Some(25))
            .empty_text(en("Nothing"))
            .build();
        assert_eq!(t.columns[1].align, Align::End);
        assert_eq!(t.rows[0].cells, vec![Cell::Text("x".into()), Cell::Empty]);
        assert_eq!(t.rows[1].cells.len(), 2);
        assert_eq!(t.row_actions[0].action, "open");
        let p = t.paging.unwrap();
        assert!(p.has_more);
        assert_eq!(p.param, "page");
        let last = TableBuilder::new("t").paging(3, 10, Some(25)).build();
        assert!(!last.paging.unwrap().has_more);
    }

    #[test]
    fn stats_and_buttons_share_a_row() {
        let s = ScreenBuilder::new(en("S"))
            .stat(en("A"), cell::integer(1))
            .stat(en("B"), cell::money(1999, "CNY"))
            .text(en("between"))
            .stat(en("C"), cell::decimal(0.5))
            .button(ButtonBuilder::action("go", en("Go")).param("x", "1"))
            .button(ButtonBuilder::screen(
                ScreenRef::to("other").param("id", "7"),
                en("Other"),
            ))
            .build();
        assert_eq!(s.blocks.len(), 4);
        match &s.blocks[0] {
            Block::Stats(row) => assert_eq!(row.len(), 2),
            b => panic!("unexpected {b:?}"),
        }
        match &s.blocks[3] {
            Block::Actions(row) => {
                assert_eq!(row.len(), 2);
                assert_eq!(row[0].target, ButtonTarget::Action("go".into()));
                assert_eq!(row[0].params[0].value, "1");
                assert_eq!(
                    row[1].target,
                    ButtonTarget::Screen(ScreenRef::to("other").param("id", "7"))
                );
            }
            b => panic!("unexpected {b:?}"),
        }
    }

    #[test]
    fn form_shows_errors_on_fields() {
        let err = crate::errors::invalid([
            ("summary", tr!("is too long", "太长")),
            ("other", en("form level")),
        ]);
        let inputs = vec![crate::errors::param("summary", "typed")];
        let f = FormBuilder::new("note", "add-note", tr!("Save", "保存"))
            .field(
                FieldBuilder::multiline("summary", en("Summary"))
                    .required()
                    .max_length(10),
            )
            .field(FieldBuilder::select(
                "kind",
                en("Kind"),
                [("call", en("Call")), ("note", en("Note"))],
            ))
            .field(FieldBuilder::hidden("customer", "c-1"))
            .field(FieldBuilder::integer("n", en("N")).range(1.0, 5.0))
            .with_errors(&err, &inputs)
            .build();
        assert_eq!(f.fields[0].value.as_deref(), Some("typed"));
        assert_eq!(
            f.fields[0].error.as_ref().unwrap().zh_hans.as_deref(),
            Some("太长")
        );
        assert_eq!(f.fields[0].rules, vec![Rule::MaxLength(10)]);
        assert!(f.fields[0].required);
        assert!(matches!(&f.fields[1].kind, FieldKind::Select(c) if c.len() == 2));
        assert_eq!(f.fields[2].value.as_deref(), Some("c-1"));
        assert_eq!(f.fields[3].rules, vec![Rule::Min(1.0), Rule::Max(5.0)]);
        assert_eq!(f.errors, vec![en("form level")]);
    }

    #[test]
    fn personal_fields_keep_their_restriction() {
        assert_eq!(
            Cell::from(&PersonalField::Clear("Ada".into())),
            Cell::Text("Ada".into())
        );
        assert_eq!(
            cell::personal(&PersonalField::Masked("A** L*****".into())),
            Cell::Masked("A** L*****".into())
        );
        assert_eq!(Cell::from(&PersonalField::Redacted), Cell::Redacted);
        assert_eq!(Cell::from(&PersonalField::Empty), Cell::Empty);
        let m = PersonalField::Masked("a***@x.org".into());
        assert_eq!(m.clear(), None);
        assert_eq!(m.shown(), Some("a***@x.org"));
        assert!(m.is_restricted());
        assert!(!PersonalField::Empty.is_restricted());
    }

    #[test]
    fn chart_and_key_values() {
        let s = ScreenBuilder::new(en("S"))
            .heading_at(9, en("H"))
            .key_values([
                (en("Region"), cell::text("CN")),
                (en("VIP"), Cell::from(true)),
            ])
            .chart(
                ChartKind::Bar,
                en("Signups"),
                ["Jan", "Feb"],
                [(en("2026"), vec![Some(1.0), None])],
            )
            .build();
        assert!(matches!(&s.blocks[0], Block::Heading(h) if h.level == 3));
        assert!(matches!(&s.blocks[1], Block::KeyValues(kv) if kv.len() == 2));
        assert!(
            matches!(&s.blocks[2], Block::Chart(c) if c.series[0].values == vec![Some(1.0), None])
        );
        assert_eq!(refresh(Tone::Success, en("ok")).next, Next::Refresh);
    }
}
