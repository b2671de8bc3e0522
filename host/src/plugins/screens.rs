//! What a plugin's screen may hold, checked before the host renders it: the host turns each
//! block into HTML (or JSON), so counts that multiply when rendered (rows × row actions, forms ×
//! the origin's parameters) are bounded, and every link names a screen the plugin declares.
//! Sizes in bytes are bounded earlier, while the screen is read out of the sandbox (the output
//! cap).

use super::abi::latest::guest::{ActionOutcome, Next, PluginManifest};
use super::abi::latest::ui::{Block, ButtonTarget, Cell, FieldKind, Rule, Screen, ScreenRef};

/// The bounds, each named in the refusal that reports it.
pub mod bounds {
    pub const BLOCKS: usize = 100;
    pub const COLUMNS: usize = 30;
    pub const ROWS: usize = 500;
    pub const ROW_ACTIONS: usize = 8;
    pub const KEY_VALUES: usize = 200;
    pub const STATS: usize = 24;
    pub const BUTTONS: usize = 24;
    pub const PARAMS: usize = 20;
    pub const FIELDS: usize = 50;
    pub const CHOICES: usize = 500;
    pub const RULES: usize = 10;
    pub const CHART_POINTS: usize = 500;
    pub const CHART_SERIES: usize = 10;
    pub const TAGS: usize = 50;
    /// Characters of a field's pattern (the host compiles and runs it for the plugin).
    pub const PATTERN_CHARS: usize = 200;
    /// Forms and buttons that run an action: each is rendered with the screen's parameters.
    pub const ACTION_CONTROLS: usize = 100;
}

/// Why `screen` cannot be shown, if it cannot: a bound it exceeds, or a link to a screen the
/// manifest does not declare. One pass over the blocks, counting as it goes (hence the length):
/// the bounds are totals across blocks.
pub fn check(screen: &Screen, manifest: &PluginManifest) -> Result<(), String> {
    use bounds::*;
    let at_most = |what: &str, n: usize, max: usize| {
        if n > max {
            Err(format!(
                "its screen has {n} {what}; at most {max} are shown"
            ))
        } else {
            Ok(())
        }
    };
    let link = |r: &ScreenRef| check_link(r, manifest);
    let cell = |c: &Cell| -> Result<(), String> {
        match c {
            Cell::Link(l) => link(&l.target),
            Cell::Tags(t) => at_most("tags in a cell", t.len(), TAGS),
            _ => Ok(()),
        }
    };
    at_most("blocks", screen.blocks.len(), BLOCKS)?;
    let mut controls = 0;
    for b in &screen.blocks {
        match b {
            Block::Heading(_) | Block::Paragraph(_) => {}
            Block::KeyValues(kvs) => {
                at_most("key-value lines in a block", kvs.len(), KEY_VALUES)?;
                kvs.iter().try_for_each(|kv| cell(&kv.value))?;
            }
            Block::Stats(stats) => {
                at_most("figures in a block", stats.len(), STATS)?;
                stats.iter().try_for_each(|s| cell(&s.value))?;
            }
            Block::Table(t) => {
                at_most("columns in a table", t.columns.len(), COLUMNS)?;
                at_most("rows in a table", t.rows.len(), ROWS)?;
                at_most("row actions in a table", t.row_actions.len(), ROW_ACTIONS)?;
                for r in &t.rows {
                    at_most("cells in a row", r.cells.len(), COLUMNS)?;
                    r.cells.iter().try_for_each(cell)?;
                }
                controls += t.row_actions.len();
            }
            Block::Form(f) => {
                at_most("fields in a form", f.fields.len(), FIELDS)?;
                for field in &f.fields {
                    at_most("rules on a field", field.rules.len(), RULES)?;
                    if let FieldKind::Select(c) | FieldKind::MultiSelect(c) = &field.kind {
                        at_most("choices in a field", c.len(), CHOICES)?;
                    }
                    for r in &field.rules {
                        if let Rule::Pattern(p) = r
                            && p.chars().count() > PATTERN_CHARS
                        {
                            return Err(format!(
                                "its field `{}` has a pattern longer than {} characters",
                                field.name.chars().take(60).collect::<String>(),
                                PATTERN_CHARS
                            ));
                        }
                    }
                }
                controls += 1;
            }
            Block::Chart(c) => {
                at_most("points in a chart", c.x_labels.len(), CHART_POINTS)?;
                at_most("series in a chart", c.series.len(), CHART_SERIES)?;
                for s in &c.series {
                    at_most("points in a chart", s.values.len(), CHART_POINTS)?;
                }
            }
            Block::Actions(buttons) => {
                at_most("buttons in a block", buttons.len(), BUTTONS)?;
                for bt in buttons {
                    at_most("parameters on a button", bt.params.len(), PARAMS)?;
                    match &bt.target {
                        ButtonTarget::Screen(r) => link(r)?,
                        ButtonTarget::Action(_) => controls += 1,
                    }
                }
            }
        }
    }
    at_most(
        "forms and buttons that run actions",
        controls,
        ACTION_CONTROLS,
    )
}

/// Why a link cannot be followed: the screen it names is not declared, or it has too many
/// parameters.
pub fn check_link(r: &ScreenRef, manifest: &PluginManifest) -> Result<(), String> {
    if !manifest.screens.iter().any(|s| s.name == r.screen) {
        return Err(format!(
            "its screen links to `{}`, a screen it does not declare",
            r.screen.chars().take(60).collect::<String>()
        ));
    }
    if r.params.len() > bounds::PARAMS {
        return Err(format!(
            "a link has {} parameters; at most {} are allowed",
            r.params.len(),
            bounds::PARAMS
        ));
    }
    Ok(())
}

/// [`check`] for what an action answers: the screen it shows, or the screen it opens.
pub fn check_outcome(outcome: &ActionOutcome, manifest: &PluginManifest) -> Result<(), String> {
    match &outcome.next {
        Next::Refresh => Ok(()),
        Next::Show(screen) => check(screen, manifest),
        Next::Navigate(r) => check_link(r, manifest),
    }
}
