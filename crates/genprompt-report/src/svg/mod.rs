//! Hand-written SVG charts: grouped bars with error bars, stacked bars, a scatter and a line chart
//! with error bars. No fonts, scripts or links; every string that reaches the output is escaped.

use std::fmt::Write;

use crate::ProjectedPoint;

/// Tableau 10: distinguishable, medium-dark colours.
const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
/// Approximate advance of a character, per pixel of font size.
const CHAR_W: f64 = 0.6;
const WIDTH: f64 = 640.0;
/// Beyond this many points a scatter shows every k-th one.
const MAX_POINTS: usize = 4000;

pub(crate) fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text for HTML and XML, in content and in quoted attributes; characters that XML 1.0
/// forbids become U+FFFD, so standalone SVG files stay well-formed.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, ending in an ellipsis when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max.saturating_sub(1)).chain(['…']).collect()
    }
}

fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * CHAR_W
}

/// Black or white, whichever reads better on `hex` (`#rrggbb`).
fn ink(hex: &str) -> &'static str {
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128) as f64;
    let luminance = 0.299 * channel(1) + 0.587 * channel(3) + 0.114 * channel(5);
    if luminance > 150.0 { "#111" } else { "#fff" }
}

struct Svg {
    body: String,
}

impl Svg {
    fn new(title: &str) -> Svg {
        let mut svg = Svg { body: String::new() };
        svg.text(12.0, 22.0, title, r#" font-size="15" font-weight="600""#);
        svg
    }

    /// `attrs` are trusted constants; `s` is escaped.
    fn text(&mut self, x: f64, y: f64, s: &str, attrs: &str) {
        let _ = write!(self.body, r#"<text x="{x:.1}" y="{y:.1}"{attrs}>{}</text>"#, esc(s));
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), attrs: &str) {
        let _ = write!(self.body, r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}"{attrs}/>"#);
    }

    fn rect(&mut self, (x, y): (f64, f64), (w, h): (f64, f64), fill: &str, tip: &str) {
        let _ = write!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{fill}"><title>{}</title></rect>"#,
            w.max(0.0),
            esc(tip)
        );
    }

    /// A vertical error bar with caps, or a horizontal one when `horizontal`.
    fn whisker(&mut self, at: f64, from: f64, to: f64, horizontal: bool) {
        let style = r##" stroke="#222" stroke-width="1.2""##;
        let p = |a: f64, b: f64| if horizontal { (a, b) } else { (b, a) };
        self.line(p(from, at), p(to, at), style);
        for end in [from, to] {
            self.line(p(end, at - 4.0), p(end, at + 4.0), style);
        }
    }

    /// Legend entries flowing left to right from `(x, y)`, wrapping at the chart width; returns
    /// the y below the last line.
    fn legend(&mut self, (x0, mut y): (f64, f64), items: &[(String, Marker)]) -> f64 {
        let mut x = x0;
        for (name, marker) in items {
            let name = clip(name, 28);
            let w = 16.0 + text_width(&name, 12.0) + 14.0;
            if x + w > WIDTH - 8.0 && x > x0 {
                (x, y) = (x0, y + 18.0);
            }
            match marker {
                Marker::Swatch(c) => self.rect((x, y - 9.0), (11.0, 11.0), c, &name),
                Marker::Dot => self.body.push_str(&format!(
                    r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#555"/>"##,
                    x + 5.5,
                    y - 3.5
                )),
                Marker::Cross => self.body.push_str(&cross_path(&[(x + 5.5, y - 3.5)], "#555")),
            }
            self.text(x + 16.0, y, &name, "");
            x += w;
        }
        y + 18.0
    }

    fn finish(self, title: &str, height: f64) -> String {
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="system-ui, sans-serif" font-size="12" fill="#1d2327" role="img"><title>{}</title><rect width="100%" height="100%" fill="#fff"/>{}</svg>"##,
            esc(title),
            self.body
        )
    }
}

enum Marker {
    Swatch(String),
    Dot,
    Cross,
}

fn cross_path(points: &[(f64, f64)], stroke: &str) -> String {
    let mut d = String::new();
    for (x, y) in points {
        let _ = write!(d, "M{:.1} {:.1}l6 6m0-6l-6 6", x - 3.0, y - 3.0);
    }
    format!(r#"<path d="{d}" stroke="{stroke}" stroke-width="1.4" fill="none"/>"#)
}

/// Round tick values covering `[lo, hi]` (about `count` intervals), the first <= lo, the last >= hi.
fn ticks(lo: f64, hi: f64, count: f64) -> Vec<f64> {
    let (lo, hi) = if !lo.is_finite() || !hi.is_finite() { (0.0, 1.0) } else { (lo, hi) };
    let (lo, hi) = if hi - lo > 1e-9 * hi.abs().max(1.0) { (lo, hi) } else { (lo - 1.0, hi + 1.0) };
    let raw = (hi - lo) / count;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw * 0.999).unwrap_or(raw);
    let start = (lo / step).floor() * step;
    let n = ((hi - start) / step - 1e-9).ceil().max(1.0) as usize;
    (0..=n).map(|i| start + i as f64 * step).collect()
}

fn tick_label(v: f64, ticks: &[f64]) -> String {
    let step = ticks.get(1).map_or(1.0, |t| t - ticks[0]);
    let decimals = (0..6).find(|&d| ((step * 10f64.powi(d)).round() - step * 10f64.powi(d)).abs() < 1e-6).unwrap_or(6);
    let s = format!("{v:.*}", decimals as usize);
    if s.trim_start_matches(['-', '0', '.']).is_empty() { s.trim_start_matches('-').to_string() } else { s }
}

/// Maps `[ticks[0], ticks.last()]` onto `[r0, r1]`.
fn scale(ticks: &[f64], r0: f64, r1: f64) -> impl Fn(f64) -> f64 + Copy {
    let (d0, d1) = (ticks[0], *ticks.last().unwrap_or(&1.0));
    move |v: f64| r0 + (v - d0) / (d1 - d0) * (r1 - r0)
}

fn x_axis(svg: &mut Svg, ticks: &[f64], at: impl Fn(f64) -> f64, (top, bottom): (f64, f64), label: &str) {
    for &t in ticks {
        svg.line((at(t), top), (at(t), bottom), r##" stroke="#e3e6ea""##);
        svg.text(at(t), bottom + 15.0, &tick_label(t, ticks), r#" text-anchor="middle" font-size="11""#);
    }
    let middle = (at(ticks[0]) + at(*ticks.last().unwrap_or(&1.0))) / 2.0;
    svg.text(middle, bottom + 32.0, label, r##" text-anchor="middle" fill="#5f6b7a""##);
}

fn y_axis(svg: &mut Svg, ticks: &[f64], at: impl Fn(f64) -> f64, (left, right): (f64, f64), label: &str) {
    for &t in ticks {
        svg.line((left, at(t)), (right, at(t)), r##" stroke="#e3e6ea""##);
        svg.text(left - 6.0, at(t) + 4.0, &tick_label(t, ticks), r#" text-anchor="end" font-size="11""#);
    }
    let middle = (at(ticks[0]) + at(*ticks.last().unwrap_or(&1.0))) / 2.0;
    let attrs = format!(r##" text-anchor="middle" fill="#5f6b7a" transform="rotate(-90 14 {middle:.1})""##);
    svg.text(14.0, middle, label, &attrs);
}

/// One group of bars (a method): one `(mean, std)` per series, `None` when missing.
pub(crate) struct BarGroup {
    pub name: String,
    pub values: Vec<Option<(f64, f64)>>,
    /// Drawn in grey: the real-data reference.
    pub reference: bool,
}

/// Horizontal grouped bars from 0 with ±std whiskers and the mean written at the end.
pub(crate) fn bar_chart(title: &str, axis_label: &str, series: &[&str], groups: &[BarGroup]) -> String {
    let mut svg = Svg::new(title);
    let names: Vec<String> = groups.iter().map(|g| clip(&g.name, 30)).collect();
    let left = 20.0 + names.iter().map(|n| text_width(n, 12.0)).fold(30.0, f64::max);
    let legend: Vec<(String, Marker)> =
        series.iter().enumerate().map(|(i, s)| (s.to_string(), Marker::Swatch(color(i).into()))).collect();
    let top = svg.legend((left, 44.0), &legend) - 4.0;
    let bar = 15.0;
    let group_h = series.len() as f64 * (bar + 3.0) + 12.0;
    let bottom = top + group_h * groups.len().max(1) as f64;
    let high = groups.iter().flat_map(|g| g.values.iter().flatten()).map(|(m, s)| m + s).fold(0.0, f64::max);
    let ticks = ticks(0.0, high, 5.0);
    let at = scale(&ticks, left, WIDTH - 60.0);
    x_axis(&mut svg, &ticks, at, (top, bottom), axis_label);
    for (gi, (group, name)) in groups.iter().zip(&names).enumerate() {
        let y0 = top + gi as f64 * group_h + 6.0;
        let style = if group.reference {
            r##" text-anchor="end" font-style="italic" fill="#5f6b7a""##
        } else {
            r#" text-anchor="end""#
        };
        svg.text(left - 8.0, y0 + (group_h - 12.0) / 2.0 + 4.0, name, style);
        for (si, value) in group.values.iter().enumerate() {
            let y = y0 + si as f64 * (bar + 3.0);
            let Some((mean, std)) = *value else {
                svg.text(left + 4.0, y + bar - 3.0, "n/a", r##" fill="#8a94a3" font-size="11""##);
                continue;
            };
            let fill = if group.reference { ["#8a94a3", "#c3c9d1"][si % 2] } else { color(si) };
            let tip = format!("{}, {}: {mean:.1} ± {std:.1}", group.name, series.get(si).unwrap_or(&""));
            svg.rect((left, y), (at(mean) - left, bar), fill, &tip);
            svg.whisker(y + bar / 2.0, at((mean - std).max(ticks[0])), at(mean + std), true);
            svg.text(at(mean + std) + 5.0, y + bar - 3.0, &format!("{mean:.1}"), r#" font-size="11""#);
        }
    }
    svg.finish(title, bottom + 44.0)
}

/// A named, coloured part of a stacked bar.
pub(crate) struct Segment {
    pub name: String,
    pub color: String,
}

/// Horizontal stacked bars, one per `(name, values)` row; `normalize` scales each row to 100 %.
pub(crate) fn stacked_bars(
    title: &str,
    axis_label: &str,
    segments: &[Segment],
    rows: &[(String, Vec<f64>)],
    normalize: bool,
) -> String {
    let mut svg = Svg::new(title);
    let names: Vec<String> = rows.iter().map(|(n, _)| clip(n, 24)).collect();
    let left = 16.0 + names.iter().map(|n| text_width(n, 12.0)).fold(30.0, f64::max);
    let legend: Vec<(String, Marker)> =
        segments.iter().map(|s| (s.name.clone(), Marker::Swatch(s.color.clone()))).collect();
    let top = svg.legend((12.0, 44.0), &legend);
    let row_h = 22.0;
    let bottom = top + row_h * rows.len().max(1) as f64;
    let totals: Vec<f64> = rows.iter().map(|(_, v)| v.iter().sum()).collect();
    let high = if normalize { 100.0 } else { totals.iter().copied().fold(0.0, f64::max) };
    let ticks = ticks(0.0, high.max(1.0), 5.0);
    let at = scale(&ticks, left, WIDTH - 24.0);
    x_axis(&mut svg, &ticks, at, (top, bottom), axis_label);
    for (ri, ((row, values), name)) in rows.iter().zip(&names).enumerate() {
        let y = top + ri as f64 * row_h + 4.0;
        svg.text(left - 8.0, y + 12.0, name, r#" text-anchor="end""#);
        let mut x = 0.0;
        for (segment, &value) in segments.iter().zip(values).filter(|(_, v)| **v > 0.0) {
            let share = 100.0 * value / totals[ri];
            let shown = if normalize { share } else { value };
            let (x0, x1) = (at(x), at(x + shown));
            svg.rect(
                (x0, y),
                (x1 - x0, row_h - 6.0),
                &segment.color,
                &format!("{row}: {} {value} ({share:.0}%)", segment.name),
            );
            let label = if normalize { format!("{share:.0}%") } else { format!("{value}") };
            if text_width(&label, 11.0) + 6.0 < x1 - x0 {
                let attrs = format!(r#" text-anchor="middle" font-size="11" fill="{}""#, ink(&segment.color));
                svg.text((x0 + x1) / 2.0, y + 12.0, &label, &attrs);
            }
            x += shown;
        }
    }
    svg.finish(title, bottom + 44.0)
}

/// The 2-D projection: synthetic rows as dots and real rows as crosses, coloured by label in
/// the order of `labels` (unknown labels after them).
pub(crate) fn scatter(title: &str, points: &[ProjectedPoint], labels: &[String]) -> String {
    let mut svg = Svg::new(title);
    let (left, right, top, bottom) = (56.0, WIDTH - 16.0, 52.0, 412.0);
    let stride = points.len().div_ceil(MAX_POINTS).max(1);
    let n_real = points.iter().filter(|p| p.real).count();
    let mut note = format!("{} synthetic, {n_real} real rows", points.len() - n_real);
    if stride > 1 {
        let _ = write!(note, "; every {stride}th shown");
    }
    svg.text(12.0, 40.0, &note, r##" fill="#5f6b7a""##);
    let finite = |p: &&ProjectedPoint| p.x.is_finite() && p.y.is_finite();
    let range = |f: fn(&ProjectedPoint) -> f32| {
        let (lo, hi) = points.iter().filter(finite).map(f).fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
        if lo > hi { ticks(-1.0, 1.0, 5.0) } else { ticks(f64::from(lo), f64::from(hi), 5.0) }
    };
    let (xt, yt) = (range(|p| p.x), range(|p| p.y));
    let (ax, ay) = (scale(&xt, left, right), scale(&yt, bottom, top));
    x_axis(&mut svg, &xt, ax, (top, bottom), "principal component 1");
    y_axis(&mut svg, &yt, ay, (left, right), "principal component 2");
    let mut order: Vec<&str> = labels.iter().map(String::as_str).collect();
    for p in points {
        if !order.contains(&p.label.as_str()) {
            order.push(p.label.as_str());
        }
    }
    let shown: Vec<&ProjectedPoint> = points.iter().step_by(stride).filter(finite).collect();
    for real in [false, true] {
        for (li, label) in order.iter().enumerate() {
            let at: Vec<(f64, f64)> = shown
                .iter()
                .filter(|p| p.real == real && p.label == *label)
                .map(|p| (ax(f64::from(p.x)), ay(f64::from(p.y))))
                .collect();
            if at.is_empty() {
                continue;
            }
            if real {
                svg.body.push_str(&cross_path(&at, color(li)));
            } else {
                let mut d = String::new();
                for (x, y) in &at {
                    let _ = write!(d, "M{:.1} {y:.1}a3 3 0 1 0 6 0a3 3 0 1 0-6 0", x - 3.0);
                }
                let _ = write!(svg.body, r#"<path d="{d}" fill="{}" fill-opacity="0.6"/>"#, color(li));
            }
        }
    }
    let mut legend: Vec<(String, Marker)> =
        order.iter().enumerate().map(|(i, l)| (l.to_string(), Marker::Swatch(color(i).into()))).collect();
    legend.extend([("synthetic".to_string(), Marker::Dot), ("real".to_string(), Marker::Cross)]);
    let end = svg.legend((left, bottom + 58.0), &legend);
    svg.finish(title, end)
}

/// One line of a [`line_chart`]: `(x, mean, std)` points.
pub(crate) struct Series {
    pub name: String,
    pub color: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// Lines with markers and ±std error bars; a legend when there is more than one series.
pub(crate) fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let mut svg = Svg::new(title);
    let (left, right, top, bottom) = (60.0, WIDTH - 20.0, 40.0, 320.0);
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x_high = all().map(|p| p.0).fold(0.0, f64::max);
    let y_low = all().map(|p| p.1 - p.2).fold(f64::INFINITY, f64::min);
    let y_high = all().map(|p| p.1 + p.2).fold(f64::NEG_INFINITY, f64::max);
    let (xt, yt) = (ticks(0.0, x_high.max(1.0), 6.0), ticks(y_low, y_high, 5.0));
    let (ax, ay) = (scale(&xt, left, right), scale(&yt, bottom, top));
    x_axis(&mut svg, &xt, ax, (top, bottom), x_label);
    y_axis(&mut svg, &yt, ay, (left, right), y_label);
    for s in series {
        let mut points = s.points.clone();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let d: Vec<String> = points.iter().map(|p| format!("{:.1} {:.1}", ax(p.0), ay(p.1))).collect();
        let _ = write!(svg.body, r#"<path d="M{}" stroke="{}" stroke-width="2" fill="none"/>"#, d.join("L"), s.color);
        for &(x, mean, std) in &points {
            svg.whisker(ax(x), ay(mean - std), ay(mean + std), false);
            let tip = esc(&format!("{}: {x} rows, {mean:.1} ± {std:.1}", s.name));
            let _ = write!(
                svg.body,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{}"><title>{tip}</title></circle>"#,
                ax(x),
                ay(mean),
                s.color
            );
        }
    }
    let legend: Vec<(String, Marker)> =
        series.iter().map(|s| (s.name.clone(), Marker::Swatch(s.color.clone()))).collect();
    let end = if series.len() > 1 { svg.legend((left, bottom + 56.0), &legend) } else { bottom + 44.0 };
    svg.finish(title, end)
}

#[cfg(test)]
mod tests;
