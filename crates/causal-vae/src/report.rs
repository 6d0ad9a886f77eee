//! `report.html`: a self-contained page (inline SVG charts drawn with plotters, images
//! referenced next to it) that shows a run's queries, posteriors and metrics.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::Result;

/// A page: a title and its sections in order.
#[derive(Debug, Default)]
pub struct Report {
    pub title: String,
    pub sections: Vec<Section>,
}

/// A heading with blocks under it.
#[derive(Debug, Default)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// What a section holds.
#[derive(Debug)]
pub enum Block {
    /// A paragraph of plain text.
    Text(String),
    /// An image file, relative to the report, with a caption.
    Image { path: String, caption: String },
    /// Grouped bars: one group per state, one bar per series.
    Bars(BarChart),
    /// A line chart of (x, y) series.
    Lines(LineChart),
    /// Text shown as is, in a fixed-width font (aligned tables).
    Preformatted(String),
    /// A table: header row and rows.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// Distributions of one variable under several queries.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub categories: Vec<String>,
    /// (legend, one value per category).
    pub series: Vec<(String, Vec<f64>)>,
}

/// Curves over a common x axis.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Plot y on a log scale (losses).
    pub log_y: bool,
}

/// plotters' drawing errors (the SVG backend's are I/O errors; writing to a string
/// cannot fail, so they are ignored by the callers).
type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

const PALETTE: [RGBColor; 4] = [
    RGBColor(55, 110, 180),
    RGBColor(220, 120, 40),
    RGBColor(80, 160, 90),
    RGBColor(170, 70, 150),
];

impl Report {
    /// Writes the page to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        nn::run_dir::write_atomically(path, self.to_html().as_bytes())?;
        Ok(())
    }

    /// The page as HTML.
    pub fn to_html(&self) -> String {
        let mut html = String::new();
        let _ = write!(
            html,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\
             img{{max-width:100%;image-rendering:pixelated;border:1px solid #ccc}}figure{{margin:1em 0}}\
             table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
             th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}.charts{{display:flex;flex-wrap:wrap;gap:1em}}</style>\
             </head><body>\n<h1>{0}</h1>\n",
            escape(&self.title)
        );
        for section in &self.sections {
            let _ = writeln!(html, "<h2>{}</h2>", escape(&section.heading));
            let mut charts = String::new();
            for block in &section.blocks {
                match block {
                    Block::Bars(chart) => charts.push_str(&bar_svg(chart)),
                    Block::Lines(chart) => charts.push_str(&line_svg(chart)),
                    other => {
                        flush_charts(&mut html, &mut charts);
                        html.push_str(&block_html(other));
                    }
                }
            }
            flush_charts(&mut html, &mut charts);
        }
        html.push_str("</body></html>\n");
        html
    }
}

fn flush_charts(html: &mut String, charts: &mut String) {
    if !charts.is_empty() {
        let _ = writeln!(html, "<div class=\"charts\">{charts}</div>");
        charts.clear();
    }
}

fn block_html(block: &Block) -> String {
    match block {
        Block::Text(text) => format!("<p>{}</p>\n", escape(text)),
        Block::Preformatted(text) => format!("<pre>{}</pre>\n", escape(text)),
        Block::Image { path, caption } => format!(
            "<figure><img src=\"{}\" alt=\"{1}\"><figcaption>{1}</figcaption></figure>\n",
            escape(path),
            escape(caption)
        ),
        Block::Table { header, rows } => {
            let mut out = String::from("<table><tr>");
            for h in header {
                let _ = write!(out, "<th>{}</th>", escape(h));
            }
            out.push_str("</tr>\n");
            for row in rows {
                out.push_str("<tr>");
                for cell in row {
                    let _ = write!(out, "<td>{}</td>", escape(cell));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
            out
        }
        Block::Bars(_) | Block::Lines(_) => String::new(),
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Grouped bar chart as an SVG string.
pub fn bar_svg(chart: &BarChart) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        let _ = draw_bars(&root, chart);
        let _ = root.present();
    }
    svg
}

fn draw_bars(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    chart: &BarChart,
) -> DrawResult {
    root.fill(&WHITE)?;
    let groups = chart.categories.len().max(1);
    let per_group = chart.series.len().max(1);
    let top = chart
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..groups as f64, 0.0..top.min(1.05))?;
    let categories = chart.categories.clone();
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(groups * 2 + 1)
        .x_label_formatter(&move |x| {
            let i = x.floor() as usize;
            match (x - x.floor() - 0.5).abs() < 1e-6 {
                true => categories.get(i).cloned().unwrap_or_default(),
                false => String::new(),
            }
        })
        .y_desc("probability")
        .draw()?;
    let width = 0.8 / per_group as f64;
    for (k, (name, values)) in chart.series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        ctx.draw_series(values.iter().enumerate().map(|(i, &v)| {
            let x0 = i as f64 + 0.1 + k as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width * 0.92, v)], color.filled())
        }))?
        .label(name.as_str())
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    ctx.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    Ok(())
}

/// Line chart as an SVG string.
pub fn line_svg(chart: &LineChart) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        let _ = draw_lines(&root, chart);
        let _ = root.present();
    }
    svg
}

fn draw_lines(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    chart: &LineChart,
) -> DrawResult {
    root.fill(&WHITE)?;
    let points = || chart.series.iter().flat_map(|(_, s)| s.iter().copied());
    let (x_max, mut y_min, mut y_max) = points().fold(
        (1.0f64, f64::INFINITY, f64::NEG_INFINITY),
        |(x, lo, hi), (px, py)| (x.max(px), lo.min(py), hi.max(py)),
    );
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    let transform = |y: f64| if chart.log_y { y.max(1e-9).log10() } else { y };
    let (lo, hi) = (transform(y_min.max(1e-9)), transform(y_max));
    let pad = ((hi - lo).abs() * 0.05).max(1e-6);
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..x_max, (lo - pad)..(hi + pad))?;
    let log_y = chart.log_y;
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_label_formatter(&move |y| match log_y {
            true => format!("{:.3}", 10f64.powf(*y)),
            false => format!("{y:.3}"),
        })
        .draw()?;
    for (k, (name, series)) in chart.series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        ctx.draw_series(LineSeries::new(
            series.iter().map(|&(x, y)| (x, transform(y))),
            color.stroke_width(2),
        ))?
        .label(name.as_str())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2)));
    }
    ctx.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_escaped_text_tables_and_charts() {
        let report = Report {
            title: "Run <1>".into(),
            sections: vec![Section {
                heading: "Queries".into(),
                blocks: vec![
                    Block::Text("P(a & b)".into()),
                    Block::Image {
                        path: "queries/condition.png".into(),
                        caption: "condition".into(),
                    },
                    Block::Bars(BarChart {
                        title: "actor_attack".into(),
                        categories: vec!["Low".into(), "High".into()],
                        series: vec![
                            ("seen".into(), vec![0.3, 0.7]),
                            ("do".into(), vec![0.5, 0.5]),
                        ],
                    }),
                    Block::Lines(LineChart {
                        title: "loss".into(),
                        x_label: "step".into(),
                        series: vec![("loss".into(), vec![(1.0, 10.0), (2.0, 5.0), (3.0, 2.0)])],
                        log_y: true,
                    }),
                    Block::Table {
                        header: vec!["metric".into(), "value".into()],
                        rows: vec![vec!["tv".into(), "0.01".into()]],
                    },
                ],
            }],
        };
        let html = report.to_html();
        assert!(html.contains("<h1>Run &lt;1&gt;</h1>"));
        assert!(html.contains("P(a &amp; b)"));
        assert!(html.contains("src=\"queries/condition.png\""));
        assert_eq!(html.matches("<svg").count(), 2, "two charts");
        let svg_texts: Vec<&str> = html
            .split("<text")
            .skip(1)
            .filter_map(|element| element.split_once('>'))
            .map(|(_, rest)| rest.split("</text>").next().unwrap_or_default().trim())
            .collect();
        assert!(
            svg_texts.contains(&"High") && svg_texts.contains(&"seen"),
            "axis labels and legend are SVG text: {svg_texts:?}"
        );
        assert!(html.contains("<td>0.01</td>"));
    }
}
