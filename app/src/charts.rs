//! Charts drawn on the server as SVG with plotters: bars for counts over
//! named categories. Every chart's numbers are also in a table beside it.

use plotters::prelude::*;

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
        let top = bars
            .iter()
            .map(|(_, v)| *v)
            .fold(0.0_f64, f64::max)
            .max(1.0)
            * 1.1;
        let labels: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d((0..bars.len()).into_segmented(), 0.0..top)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .y_label_formatter(&|v| format!("{v:.0}"))
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
                    .data(bars.iter().enumerate().map(|(i, (_, v))| (i, *v))),
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
}
