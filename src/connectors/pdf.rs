//! A one-page PDF copy of a bill for the demo CIS. A real CIS serves the bill it printed; the
//! demo writes a minimal, valid PDF 1.4 (one Helvetica text stream) so the reply can attach a
//! real file and tests can check what it says.

use std::fmt::Write as _;

use super::cis::{Customer, Invoice};

pub fn invoice(customer: &Customer, inv: &Invoice) -> Vec<u8> {
    let money = |m: crate::domain::Money| {
        let c = m.cents();
        format!("{}{}.{:02} EUR", if c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100)
    };
    let mut lines = vec![
        format!("Bill {}", inv.number),
        format!("{} - account {}", customer.full_name(), customer.account),
        format!("{}, {} {}", customer.address.street, customer.address.postcode, customer.address.city),
        format!("Supply point {} ({})", inv.supply_point, inv.commodity.as_str()),
        format!("Period {} to {}", inv.period_start, inv.period_end),
        format!("Issued {}   Due {}", inv.issued, inv.due),
        String::new(),
    ];
    for line in &inv.lines {
        lines.push(format!("{:<24}{:>16}", line.code, money(line.amount)));
    }
    lines.push(format!("{:<24}{:>16}", "total", money(inv.amount)));
    lines.push(format!("Status: {}", inv.status.as_str()));
    document(&lines)
}

/// A single page with `lines` of text, top to bottom.
fn document(lines: &[String]) -> Vec<u8> {
    let mut content = String::from("BT /F1 11 Tf 56 780 Td 15 TL\n");
    for line in lines {
        let _ = writeln!(content, "({}) '", escape(line));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
    ];
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for off in offsets {
        let _ = write!(tail, "{off:010} 00000 n \n");
    }
    let _ = write!(tail, "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    out.extend_from_slice(tail.as_bytes());
    out
}

/// PDF string escaping; characters outside Latin-1 become `?` (WinAnsi covers the names of
/// the four demo countries).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if (c as u32) < 256 => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pdf_is_well_formed_and_says_what_the_bill_says() {
        let data = crate::testing::demo_data();
        let account = crate::domain::AccountId::parse("40000001").unwrap();
        let d = data.read().unwrap();
        let inv = &d.statement(&account).unwrap().invoices[0];
        let pdf = d.invoice_pdf(&account, &inv.number).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.4"));
        assert!(text.ends_with("%%EOF\n"));
        assert!(text.contains("(Bill F2026-0011452) '"));
        assert!(text.contains("128.40 EUR"));
        // The cross-reference table points at each object.
        let xref_at: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        // Offsets count bytes, and the binary comment on line 2 is not UTF-8: compare bytes.
        assert!(pdf[xref_at..].starts_with(b"xref"));
        let table = String::from_utf8_lossy(&pdf[xref_at..]).into_owned();
        for obj in 1..=5 {
            let line = table.lines().nth(2 + obj).unwrap();
            let off: usize = line[..10].parse().unwrap();
            assert!(pdf[off..].starts_with(format!("{obj} 0 obj").as_bytes()), "object {obj}");
        }
    }
}
