//! Charts drawn on the server as SVG with plotters: bars for counts over
//! named categories. Every chart is named for screen readers by its caption
//! and its numbers, which are also in a table beside it.

use leptos::prelude::*;
use plotters::prelude::*;

/// A bar chart named by its caption and its numbers; when there is nothing
/// to draw, `empty` (or nothing).
#[component]
pub fn Chart(
    caption: &'static str,
    bars: Vec<(String, f64)>,
    #[prop(optional)] empty: Option<&'static str>,
) -> impl IntoView {
    let said = format!(
        "{caption}: {}",
        bars.iter()
            .map(|(name, value)| format!("{} {value}", crate::pages::shown(name)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match self::bars(caption, &bars) {
        Some(svg) => {
            view! { <div class="chart" role="img" aria-label=said inner_html=svg></div> }.into_any()
        }
        None => empty
            .map(|empty| view! { <p class="empty">{empty}</p> })
            .into_any(),
    }
}

const WIDTH: u32 = 640;
const HEIGHT: u32 = 260;

/// A bar chart of `bars` (label, value) as an SVG document; `None` when
/// there is nothing to draw.
pub fn bars(caption: &str, bars: &[(String, f64)]) -> Option<String> {
    if bars.is_empty() {
        return None;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        // Counts and percentages are whole: an integer axis ticks only at
        // whole numbers, so no tick label repeats.
        let most = bars
            .iter()
            .map(|(_, v)| v.round() as i64)
            .max()
            .unwrap_or(0)
            .max(1);
        let top = most + (most / 10).max(1);
        let labels: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(48)
            // A segmented range has a segment for each end: 0..n-1 gives
            // one per bar, with no empty one after the last.
            .build_cartesian_2d((0..bars.len() - 1).into_segmented(), 0..top)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .y_labels((top as usize + 1).min(6))
            .x_labels(bars.len())
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .ok()?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(RGBColor(0x2f, 0x6f, 0xb5).filled())
                    .margin(6)
                    .data(
                        bars.iter()
                            .enumerate()
                            .map(|(i, (_, v))| (i, v.round() as i64)),
                    ),
            )
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_chart_is_an_svg_with_its_labels_and_no_inline_style_or_script() {
        let svg = bars(
            "Opened per week",
            &[("W1".into(), 3.0), ("W2 <b>".into(), 7.0)],
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 640 260\""), "it scales: {svg}");
        assert!(svg.contains("Opened per week"));
        assert!(svg.contains("W2 &lt;b&gt;"), "labels are escaped: {svg}");
        assert!(!svg.contains("<script"));
        assert!(
            !svg.contains("style="),
            "the CSP refuses inline styles: {svg}"
        );
        assert_eq!(bars("Nothing", &[]), None);
        for n in [1, 2, 12, 40] {
            let many: Vec<(String, f64)> = (0..n)
                .map(|i| (format!("{i}"), i as f64 * 1000.0))
                .collect();
            assert!(bars("Many", &many).is_some(), "{n} bars");
        }
        assert!(bars("One", &[("only".into(), 0.0)]).is_some());
    }

    #[test]
    fn the_bars_fill_the_plot_with_no_empty_slot_after_the_last() {
        let svg = bars(
            "Three",
            &[("a".into(), 1.0), ("b".into(), 2.0), ("c".into(), 3.0)],
        )
        .unwrap();
        let number = |rect: &str, name: &str| -> i64 {
            let at = rect.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            rect[at..].split('"').next().unwrap().parse().unwrap()
        };
        let bars: Vec<(i64, i64)> = svg
            .split("<rect")
            .filter(|r| r.contains("fill=\"#2F6FB5\""))
            .map(|r| (number(r, "x"), number(r, "x") + number(r, "width")))
            .collect();
        assert_eq!(bars.len(), 3, "{svg}");
        let right = bars.iter().map(|(_, end)| *end).max().unwrap();
        // The plot ends at x = 631 (its grid lines' end); the last bar
        // reaches it, less the bar's margin.
        assert!(svg.contains("x2=\"631\""), "{svg}");
        assert!(right >= 631 - 12, "the last bar ends at {right}: {svg}");
    }

    #[test]
    fn the_axis_ticks_at_whole_numbers_and_no_label_repeats() {
        let svg = bars("Few", &[("a".into(), 3.0), ("b".into(), 4.0)]).unwrap();
        let ticks: Vec<&str> = svg
            .split("</text>")
            .filter_map(|t| t.rsplit('>').next())
            .map(str::trim)
            .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .collect();
        assert!(ticks.len() >= 3, "{ticks:?}");
        assert!(ticks.iter().all(|t| t.parse::<i64>().is_ok()), "{ticks:?}");
        let mut unique = ticks.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ticks.len(), "{ticks:?}");
    }
}
