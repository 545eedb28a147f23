//! The WordPiece text vocabulary (videobert_video::vocab): training one from a manifest, and a
//! loaded text tokenizer.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use videobert_video as video;

use crate::{spawn_promise, to_napi_error, Disposable};

#[napi(object)]
pub struct NativeVocabOptions {
    /// @default 8192
    pub vocab_size: Option<u32>,
    /// @default 2
    pub min_frequency: Option<u32>,
    /// @default true
    pub lowercase: Option<bool>,
}

/// A video whose subtitle source could not be read, left out of the vocabulary's text.
#[napi(object)]
pub struct NativeSkippedVideo {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// What `trainVocab` did.
#[napi(object)]
pub struct NativeVocabSummary {
    /// Entries in the vocabulary.
    pub size: u32,
    /// Captions it was trained on (the manifest's own and those read from its subtitle sources).
    pub captions: u32,
    pub skipped: Vec<NativeSkippedVideo>,
}

/// Train a WordPiece vocabulary on the captions of a manifest (with its subtitle files, aligned as
/// tokenization aligns them); writes `tokenizer.json` to `out`. A video whose subtitles cannot be
/// read is skipped and listed.
#[napi(ts_return_type = "Promise<NativeVocabSummary>")]
pub fn train_vocab(env: &Env, manifest: String, out: String, options: Option<NativeVocabOptions>) -> Result<Object<'_>> {
    spawn_promise(env, move || {
        let d = video::vocab::VocabOptions::default();
        let o = options.unwrap_or(NativeVocabOptions { vocab_size: None, min_frequency: None, lowercase: None });
        let opts = video::vocab::VocabOptions {
            vocab_size: o.vocab_size.map(|v| v as usize).unwrap_or(d.vocab_size),
            min_frequency: o.min_frequency.map(u64::from).unwrap_or(d.min_frequency),
            lowercase: o.lowercase.unwrap_or(d.lowercase),
        };
        let entries = video::manifest::read_manifest(std::path::Path::new(&manifest)).map_err(to_napi_error)?;
        let mut texts: Vec<String> = Vec::new();
        let mut skipped = Vec::new();
        for e in &entries {
            match e.timed_captions(&video::subtitles::AlignOptions::default()) {
                Ok((captions, _)) => texts.extend(captions.into_iter().map(|c| c.text)),
                Err(err) => skipped.push(NativeSkippedVideo { id: e.id.clone(), code: err.code().into(), message: err.to_string() }),
            }
        }
        if texts.is_empty() {
            let why =
                skipped.first().map(|s| format!(" (and {} video(s) whose subtitles do not read, the first: {})", skipped.len(), s.message)).unwrap_or_default();
            return Err(to_napi_error(video::Error::input(manifest, format!("the manifest has no captions{why}"))));
        }
        let tok = video::vocab::TextTokenizer::train(texts.iter(), &opts).map_err(to_napi_error)?;
        tok.save(std::path::Path::new(&out)).map_err(to_napi_error)?;
        Ok(NativeVocabSummary { size: tok.vocab_size() as u32, captions: texts.len() as u32, skipped })
    })
}

/// A WordPiece text tokenizer (trained by `trainVocab`, or any BERT-style `tokenizer.json` with
/// `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3 `[MASK]`=4).
#[napi]
pub struct NativeTextTokenizer {
    inner: Disposable<video::vocab::TextTokenizer>,
}

#[napi]
impl NativeTextTokenizer {
    /// Free the native memory (and for shards, the mapped files) now instead of when the GC
    /// collects this object; later calls fail with `Disposed`. Idempotent.
    #[napi]
    pub fn dispose(&self) {
        self.inner.dispose();
    }

    /// Whether `dispose()` has been called.
    #[napi(getter)]
    pub fn disposed(&self) -> bool {
        self.inner.is_disposed()
    }

    #[napi(getter)]
    pub fn vocab_size(&self) -> Result<u32> {
        Ok(self.inner.get()?.vocab_size() as u32)
    }

    /// Word-piece ids of `text` (no special tokens), at most `maxLen`.
    #[napi]
    pub fn encode(&self, text: String, max_len: u32) -> Result<Uint32Array> {
        self.inner.get()?.encode(&text, max_len as usize).map(Uint32Array::new).map_err(to_napi_error)
    }

    /// Text of word-piece ids (special tokens skipped).
    #[napi]
    pub fn decode(&self, ids: Uint32Array) -> Result<String> {
        self.inner.get()?.decode(&ids).map_err(to_napi_error)
    }

    /// Id of a token, or null.
    #[napi]
    pub fn token_to_id(&self, token: String) -> Result<Option<u32>> {
        Ok(self.inner.get()?.token_to_id(&token))
    }
}

/// Load a `tokenizer.json`.
#[napi]
pub fn load_text_tokenizer(path: String) -> Result<NativeTextTokenizer> {
    let inner = video::vocab::TextTokenizer::load(std::path::Path::new(&path)).map_err(to_napi_error)?;
    Ok(NativeTextTokenizer { inner: Disposable::new(inner, "text tokenizer") })
}
