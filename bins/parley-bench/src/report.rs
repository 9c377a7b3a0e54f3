//! Results: one [`Row`] per measured figure, printed as a table and written as JSON.

use serde::Serialize;

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// A target a figure should meet.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What it says, for people ("≤ 15 ms", "≥ 50% of reference").
    pub text: String,
    /// Whether the figure meets it.
    pub met: bool,
}

/// One measured figure, with the same-run reference it compares against.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub unit: String,
    pub value: f64,
    pub reference: Option<f64>,
    /// value / reference.
    pub ratio: Option<f64>,
    pub better: Better,
    pub targets: Vec<Target>,
}

impl Row {
    pub fn new(scenario: &str, metric: &str, unit: &str, value: f64, better: Better) -> Self {
        Self {
            scenario: scenario.into(),
            metric: metric.into(),
            unit: unit.into(),
            value,
            reference: None,
            ratio: None,
            better,
            targets: Vec::new(),
        }
    }

    pub fn reference(mut self, reference: f64) -> Self {
        self.reference = Some(reference);
        self.ratio = (reference > 0.0).then(|| self.value / reference);
        self
    }

    /// An absolute target: at least `bound` (higher is better) or at most `bound` (lower is better).
    pub fn at_most(mut self, bound: f64) -> Self {
        self.targets.push(Target { text: format!("≤ {} {}", fmt(bound), self.unit), met: self.value <= bound });
        self
    }

    pub fn at_least(mut self, bound: f64) -> Self {
        self.targets.push(Target { text: format!("≥ {} {}", fmt(bound), self.unit), met: self.value >= bound });
        self
    }

    /// A relative target on the ratio to the reference, for figures where lower is better.
    pub fn ratio_at_most(mut self, bound: f64) -> Self {
        let met = self.ratio.is_some_and(|r| r <= bound);
        self.targets.push(Target { text: format!("≤ {bound}× ref"), met });
        self
    }

    /// A relative target on the ratio to the reference.
    pub fn ratio_at_least(mut self, bound: f64) -> Self {
        let met = self.ratio.is_some_and(|r| r >= bound);
        self.targets.push(Target { text: format!("≥ {:.0}% of ref", bound * 100.0), met });
        self
    }
}

fn fmt(x: f64) -> String {
    if x >= 100.0 || x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x:.2}") }
}

/// The table, for people.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<11} {:<34} {:>12} {:>12} {:>8}  {}\n",
        "scenario", "metric", "parley", "reference", "ratio", "targets"
    );
    for r in rows {
        let reference = r.reference.map(fmt).unwrap_or_else(|| "-".into());
        let ratio = r.ratio.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        let targets: Vec<String> =
            r.targets.iter().map(|t| format!("{} {}", t.text, if t.met { "met" } else { "MISSED" })).collect();
        out.push_str(&format!(
            "{:<11} {:<34} {:>12} {:>12} {:>8}  {}\n",
            r.scenario,
            format!("{} ({})", r.metric, r.unit),
            fmt(r.value),
            reference,
            ratio,
            targets.join("; ")
        ));
    }
    out
}
