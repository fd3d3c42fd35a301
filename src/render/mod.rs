//! Rendering documents for print and email: invoice PDFs and print bundles.
//!
//! Pure values in, bytes out: no database, no terminal, no files. The caller
//! decides where the bytes go.
//!
//! - [`render_invoice`] lays out one invoice (A4, any number of pages) with the
//!   embedded DejaVu Sans font, subset (once per process) to printable ASCII,
//!   `£`, `€` and some punctuation plus whatever else the invoice uses, so
//!   every character prints everywhere and a typical invoice stays around 45 KB.
//! - [`Fonts`] is parsed once per process ([`Fonts::shared`]) and passed to
//!   every render: production renders thousands of invoices.
//! - [`merge_pdfs`] concatenates invoice PDFs into one print bundle.

pub(crate) mod document;
pub mod invoice_pdf;
mod pdf_out;

pub use invoice_pdf::{
    CallLine, ChargeLine, CompanyHeader, CustomerAddress, Fonts, InvoiceDoc, InvoiceSummary,
    render_invoice,
};

use lopdf::{Dictionary, Document, Object, ObjectId};

/// Why a PDF could not be rendered or merged.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// An embedded font file could not be parsed (a broken build, not bad input).
    #[error("the embedded font {0} cannot be parsed")]
    Font(&'static str),
    /// An embedded font could not be subset (a broken build, not bad input).
    #[error("the embedded font {0} cannot be subset: {1}")]
    Subset(&'static str, String),
    /// The PDF writer produced no bytes.
    #[error("the PDF writer produced an empty document for invoice {0}")]
    Empty(String),
    /// A PDF given to [`merge_pdfs`] is not a readable PDF.
    #[error("PDF {index} of the bundle (counting from 1) cannot be read: {source}")]
    Read {
        /// Position of the bad PDF in the input, counting from 1.
        index: usize,
        /// What the PDF reader said.
        source: lopdf::Error,
    },
    /// A PDF given to [`merge_pdfs`] has no pages or no usable page tree.
    #[error("PDF {index} of the bundle (counting from 1) has no pages")]
    NoPages {
        /// Position of the bad PDF in the input, counting from 1.
        index: usize,
    },
    /// [`merge_pdfs`] was called with nothing to merge.
    #[error("no PDFs to merge")]
    NothingToMerge,
    /// The merged document could not be written.
    #[error("cannot write the merged PDF: {0}")]
    Write(#[source] std::io::Error),
}

/// Merge several PDFs (e.g. invoices) into one print bundle, pages in order.
///
/// Each input keeps its own fonts and resources; page attributes inherited
/// from a source's page tree (media box, resources, rotation) are copied onto
/// each page first, so nothing changes appearance when the page moves into
/// the new tree. Document outlines and info of the sources are dropped.
/// Follows lopdf's `examples/merge.rs`, but keeps page order explicitly.
pub fn merge_pdfs(docs: &[Vec<u8>]) -> Result<Vec<u8>, PdfError> {
    if docs.is_empty() {
        return Err(PdfError::NothingToMerge);
    }
    let mut out = Document::with_version("1.7");
    let pages_id = out.new_object_id();
    let mut kids: Vec<Object> = Vec::new();
    let mut next_id = out.max_id + 1;

    for (i, bytes) in docs.iter().enumerate() {
        let index = i + 1;
        let mut doc =
            Document::load_mem(bytes).map_err(|source| PdfError::Read { index, source })?;
        // Resolve inherited attributes while the source page tree still exists.
        let page_ids: Vec<ObjectId> = doc.get_pages().into_values().collect();
        if page_ids.is_empty() {
            return Err(PdfError::NoPages { index });
        }
        for &page_id in &page_ids {
            let page = materialize_page(&doc, page_id).ok_or(PdfError::NoPages { index })?;
            doc.objects.insert(page_id, Object::Dictionary(page));
        }
        // Drop everything that is not reachable from the pages (catalog, page
        // tree nodes, info, outlines) so only page content is copied.
        let old_root = doc.trailer.get(b"Root").and_then(Object::as_reference).ok();
        doc.trailer = Dictionary::new();
        for &page_id in &page_ids {
            if let Ok(Object::Dictionary(d)) = doc.get_object_mut(page_id) {
                d.remove(b"Parent");
            }
        }
        if let Some(root) = old_root {
            doc.objects.remove(&root);
        }
        let keep: Vec<Object> = page_ids.iter().map(|&id| Object::Reference(id)).collect();
        doc.trailer.set("Keep", keep);
        doc.prune_objects();
        doc.renumber_objects_with(next_id);
        next_id = doc.max_id + 1;
        let renumbered: Vec<ObjectId> = match doc.trailer.get(b"Keep").and_then(Object::as_array) {
            Ok(refs) => refs.iter().filter_map(|o| o.as_reference().ok()).collect(),
            Err(_) => return Err(PdfError::NoPages { index }),
        };
        for &page_id in &renumbered {
            if let Ok(Object::Dictionary(d)) = doc.get_object_mut(page_id) {
                d.set("Parent", pages_id);
            }
            kids.push(Object::Reference(page_id));
        }
        out.objects.extend(doc.objects);
    }

    let count = i64::try_from(kids.len()).unwrap_or(i64::MAX);
    let mut pages = Dictionary::new();
    pages.set("Type", "Pages");
    pages.set("Count", count);
    pages.set("Kids", kids);
    out.objects.insert(pages_id, Object::Dictionary(pages));
    out.max_id = next_id;
    let mut catalog = Dictionary::new();
    catalog.set("Type", "Catalog");
    catalog.set("Pages", pages_id);
    let catalog_id = out.add_object(catalog);
    out.trailer.set("Root", catalog_id);

    let mut buf = Vec::new();
    out.save_to(&mut buf).map_err(PdfError::Write)?;
    Ok(buf)
}

/// A page dictionary with its inheritable attributes copied onto it.
fn materialize_page(doc: &Document, page_id: ObjectId) -> Option<Dictionary> {
    let mut page = doc.get_dictionary(page_id).ok()?.clone();
    let media_box = inherited(doc, page_id, b"MediaBox")?;
    let resources =
        inherited(doc, page_id, b"Resources").unwrap_or_else(|| Dictionary::new().into());
    if let Some(crop) = inherited(doc, page_id, b"CropBox") {
        page.set("CropBox", crop);
    }
    if let Some(rotate) = inherited(doc, page_id, b"Rotate") {
        page.set("Rotate", rotate);
    }
    page.set("MediaBox", media_box);
    page.set("Resources", resources);
    Some(page)
}

/// The value of `key` on the page or its nearest ancestor in the page tree.
fn inherited(doc: &Document, page_id: ObjectId, key: &[u8]) -> Option<Object> {
    let mut current = page_id;
    // A page tree is shallow; the bound guards against reference cycles.
    for _ in 0..64 {
        let node = doc.get_dictionary(current).ok()?;
        if let Ok(value) = node.get(key)
            && !matches!(doc.dereference(value), Ok((_, Object::Null)) | Err(_))
        {
            return Some(value.clone());
        }
        current = node.get(b"Parent").and_then(Object::as_reference).ok()?;
    }
    None
}

/// Poppler command-line tools, the independent PDF reader the tests check against.
#[cfg(test)]
pub(crate) mod poppler {
    use std::process::Command;

    /// Run `tool` (pdftotext, pdfinfo, ...) on `pdf` written to a temp file,
    /// output to stdout. Fails the test with install advice if poppler is missing.
    pub(crate) fn run(tool: &str, pdf: &[u8], args: &[&str]) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.pdf");
        std::fs::write(&path, pdf).expect("write temp PDF");
        let mut cmd = Command::new(tool);
        cmd.args(args).arg(&path);
        if tool == "pdftotext" {
            cmd.arg("-");
        }
        let out = cmd.output().unwrap_or_else(|e| {
            panic!(
                "cannot run `{tool}` ({e}): these tests read PDFs back with poppler; \
                 install poppler-utils (apt-get install poppler-utils)"
            )
        });
        assert!(
            out.status.success(),
            "`{tool}` rejected the PDF: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("poppler prints UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::invoice_pdf::tests::sample;
    use super::*;

    fn page_count(pdf: &[u8]) -> usize {
        let info = poppler::run("pdfinfo", pdf, &[]);
        let line = info
            .lines()
            .find(|l| l.starts_with("Pages:"))
            .expect("pdfinfo Pages");
        line["Pages:".len()..].trim().parse().expect("page count")
    }

    #[test]
    fn merged_bundle_has_every_invoice_and_page() {
        let fonts = Fonts::shared().unwrap();
        let a = sample(60);
        let mut b = sample(3);
        b.number = "INV-001235".into();
        b.customer.name = "Zed Plumbing".into();
        let pdf_a = render_invoice(&a, fonts).unwrap();
        let pdf_b = render_invoice(&b, fonts).unwrap();
        let (pages_a, pages_b) = (page_count(&pdf_a), page_count(&pdf_b));
        let bundle = merge_pdfs(&[pdf_a, pdf_b]).unwrap();
        assert_eq!(page_count(&bundle), pages_a + pages_b);
        let text = poppler::run("pdftotext", &bundle, &[]);
        let first = text.find("INV-001234").expect("first invoice in bundle");
        let second = text.find("INV-001235").expect("second invoice in bundle");
        assert!(first < second, "invoices out of order");
        assert!(text.contains("Zed Plumbing"));
        assert!(text.contains(&format!("Page {pages_a} of {pages_a}")));
    }

    #[test]
    fn merge_refuses_nothing_and_garbage() {
        assert!(matches!(merge_pdfs(&[]), Err(PdfError::NothingToMerge)));
        let good = render_invoice(&sample(1), Fonts::shared().unwrap()).unwrap();
        let err = merge_pdfs(&[good, b"not a pdf".to_vec()]).unwrap_err();
        assert!(matches!(err, PdfError::Read { index: 2, .. }), "{err}");
    }
}
