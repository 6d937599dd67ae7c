use super::*;

#[test]
fn escapes_markup_and_forbidden_characters() {
    assert_eq!(esc(r#"<script>"a" & 'b'</script>"#), "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
    assert_eq!(esc("a\u{0}b\u{1b}c\n"), "a\u{FFFD}b\u{FFFD}c\n");
    assert_eq!(clip("abcdef", 4), "abc…");
    assert_eq!(clip("abc", 4), "abc");
}

#[test]
fn ticks_are_round_and_cover_the_range() {
    assert_eq!(ticks(0.0, 85.0, 5.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    assert_eq!(ticks(0.0, 100.0, 5.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    let t = ticks(-0.37, 0.52, 5.0);
    assert!(t[0] <= -0.37 && *t.last().unwrap() >= 0.52 && t.len() <= 7, "{t:?}");
    assert_eq!(tick_label(0.25, &[0.0, 0.25]), "0.25");
    assert_eq!(tick_label(-0.0, &[-0.5, 0.0]), "0.0");
    assert!(ticks(3.0, 3.0, 5.0).len() > 1);
    assert_eq!(ink("#edc948"), "#111");
    assert_eq!(ink("#4e79a7"), "#fff");
}
