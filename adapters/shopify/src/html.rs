//! `body_html` to plain text for SnapAct's description.
//!
//! Deliberately simple: tags are dropped (their boundaries become spaces),
//! `<script>` and `<style>` content is dropped, the common character
//! references are decoded, and whitespace is collapsed. The result is text,
//! never markup, so SnapAct can show it escaped like any other text.

/// Plain text of an HTML fragment.
pub fn to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            // An unclosed `<` is not a tag: keep the rest as text.
            text.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let tag = after[..end].trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &after[end + 1..];
        if (name == "script" || name == "style") && !after.starts_with('/') {
            let close = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = match lower.find(&close) {
                Some(i) => rest[i..].find('>').map_or("", |j| &rest[i + j + 1..]),
                None => "",
            };
        }
        text.push(' ');
    }
    text.push_str(rest);
    let decoded = decode_entities(&text);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|&i| i <= 10).and_then(|semi| {
            let name = &after[..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => {
                    let code = if let Some(hex) =
                        name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        name.strip_prefix('#').and_then(|d| d.parse::<u32>().ok())
                    };
                    code.and_then(char::from_u32)
                }
            }?;
            Some((c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn strips_tags_and_decodes_text() {
        assert_eq!(
            to_text("<p>It's the <strong>small</strong> iPod.</p><p>Models from $149 &amp; up</p>"),
            "It's the small iPod. Models from $149 & up"
        );
        assert_eq!(to_text("a<br/>b<BR>c"), "a b c");
        assert_eq!(
            to_text("x<script type=\"a\">alert('<p>')</script>y<style>p{}</STYLE>z"),
            "x y z"
        );
        assert_eq!(
            to_text("1 &lt; 2 &#8364; &#x41; &bogus; & done"),
            "1 < 2 € A &bogus; & done"
        );
        assert_eq!(to_text("a < b"), "a < b");
        assert_eq!(to_text("  \n "), "");
        assert_eq!(to_text("caf&eacute;"), "caf&eacute;");
    }
}
