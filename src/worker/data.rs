//! Getting CIFAR-10 into the worker: from the browser's cache, from the server (with
//! download progress) or from a file the user picked. The archive is inflated by the
//! browser's own gzip decoder while it arrives, where the browser has one, and its
//! bytes stay in JS memory, read through a small reader, so wasm memory only ever holds
//! the parsed records (184 MB), never the archive as well.

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{
    Blob, Cache, File, ReadableStream, ReadableStreamDefaultReader, Response, ResponseInit,
    WritableStream, WritableStreamDefaultWriter,
};

use super::js::{js_error, scope};
use crate::data::cifar::RECORD_BYTES;
use crate::data::{Cifar10, DataError, Split};
use crate::run::protocol::{DataStatus, ARCHIVE_URL};

/// The parsed records are kept here (Cache API) so a reload skips the download.
const CACHE_NAME: &str = "regnet-playground";
const CACHE_KEY: &str = "/regnet-playground/cifar10-records-v1";
/// Records copied between wasm and JS memory at a time: one call per chunk, not per
/// record, and never a second whole copy of the data in wasm memory.
const CHUNK: usize = 4096;
/// Header naming how many of the cached records are training images.
const TRAIN_HEADER: &str = "x-train-images";

async fn cache() -> Result<Cache, String> {
    let storage = scope()
        .caches()
        .map_err(|e| format!("no cache storage ({})", js_error(&e)))?;
    let cache = JsFuture::from(storage.open(CACHE_NAME))
        .await
        .map_err(|e| format!("the cache did not open ({})", js_error(&e)))?;
    Ok(cache.unchecked_into())
}

async fn cached_response() -> Option<Response> {
    let cache = cache().await.ok()?;
    let hit = JsFuture::from(cache.match_with_str(CACHE_KEY)).await.ok()?;
    hit.dyn_into::<Response>().ok()
}

/// What is at hand, without downloading anything.
pub async fn probe() -> DataStatus {
    if cached_response().await.is_some() {
        return DataStatus::Available {
            cached: true,
            bytes: None,
        };
    }
    let init = web_sys::RequestInit::new();
    init.set_method("HEAD");
    match fetch(&init).await {
        Ok(response) if response.ok() => DataStatus::Available {
            cached: false,
            bytes: content_length(&response),
        },
        _ => DataStatus::Missing,
    }
}

async fn fetch(init: &web_sys::RequestInit) -> Result<Response, String> {
    let promise = scope().fetch_with_str_and_init(ARCHIVE_URL, init);
    let response = JsFuture::from(promise)
        .await
        .map_err(|e| format!("the download failed ({})", js_error(&e)))?;
    Ok(response.unchecked_into())
}

fn content_length(response: &Response) -> Option<u64> {
    response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
}

/// The data from the cache, if it holds a valid copy.
pub async fn from_cache() -> Option<Cifar10> {
    let response = cached_response().await?;
    let train: usize = response
        .headers()
        .get(TRAIN_HEADER)
        .ok()
        .flatten()?
        .parse()
        .ok()?;
    let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    let bytes = Uint8Array::new(&buffer);
    let records = bytes.length() as usize / RECORD_BYTES;
    if records <= train || bytes.length() as usize != records * RECORD_BYTES {
        return None;
    }
    Some(Cifar10 {
        train: parse_records(&bytes, 0, train).ok()?,
        test: parse_records(&bytes, train, records).ok()?,
    })
}

/// Records `from..to` of `bytes`, copied into wasm memory a few thousand at a time.
fn parse_records(bytes: &Uint8Array, from: usize, to: usize) -> Result<Split, String> {
    let mut split = Split::default();
    let mut buf = Vec::new();
    for start in (from..to).step_by(CHUNK) {
        let end = (start + CHUNK).min(to);
        buf.resize((end - start) * RECORD_BYTES, 0);
        bytes
            .subarray((start * RECORD_BYTES) as u32, (end * RECORD_BYTES) as u32)
            .copy_to(&mut buf);
        split.append(Split::parse("cached data", &buf).map_err(|e| e.to_string())?);
    }
    Ok(split)
}

/// Keeps `data` for the next visit, unless another worker or tab of this site is
/// keeping a copy right now (`None` then): the workers of a sweep each parse the same
/// archive, and one copy written is enough. The error says why it could not.
pub async fn keep_once(data: Rc<Cifar10>) -> Option<Result<(), String>> {
    exclusively("regnet-playground-cifar10-store", async move {
        store(&data).await
    })
    .await
}

/// Runs `job` holding the site-wide Web Lock `name` if no one holds it, else skips it
/// (`None`). Without Web Locks (old browsers) it just runs `job`.
async fn exclusively(
    name: &str,
    job: impl std::future::Future<Output = Result<(), String>> + 'static,
) -> Option<Result<(), String>> {
    let navigator = scope().navigator();
    let locks = Reflect::get(&navigator, &"locks".into())
        .ok()
        .filter(|l| l.is_object());
    let request = locks.as_ref().and_then(|l| {
        Reflect::get(l, &"request".into())
            .ok()?
            .dyn_into::<Function>()
            .ok()
    });
    let (Some(locks), Some(request)) = (locks, request) else {
        return Some(job.await);
    };
    let outcome = Rc::new(RefCell::new(None));
    let slot = outcome.clone();
    // The lock is held until the promise the callback returns settles.
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        if lock.is_null() {
            return JsValue::NULL;
        }
        future_to_promise(async move {
            *slot.borrow_mut() = Some(job.await);
            Ok(JsValue::UNDEFINED)
        })
        .into()
    });
    let options = Object::new();
    let held = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE)
        .and_then(|_| request.call3(&locks, &name.into(), &options, &callback))
        .and_then(|p| p.dyn_into::<Promise>());
    let held = match held {
        Ok(promise) => JsFuture::from(promise).await,
        Err(e) => Err(e),
    };
    match held {
        Ok(_) => outcome.take(),
        Err(e) => Some(Err(format!("the lock failed ({})", js_error(&e)))),
    }
}

/// Writes `data` to the cache; the error says why it could not.
async fn store(data: &Cifar10) -> Result<(), String> {
    // Each chunk of records is copied out once, into the parts of a Blob: a Blob body
    // is handed to the cache by reference, where a byte-array body is streamed through
    // this worker's thread (seconds of it, taken from the run that trains meanwhile).
    let parts = Array::new();
    let mut records = Vec::with_capacity(CHUNK * RECORD_BYTES);
    for split in [&data.train, &data.test] {
        for start in (0..split.len()).step_by(CHUNK) {
            records.clear();
            split.write_records(start..(start + CHUNK).min(split.len()), &mut records);
            parts.push(&Uint8Array::from(records.as_slice()));
        }
    }
    let blob = Blob::new_with_u8_array_sequence(&parts).map_err(|e| js_error(&e))?;
    let init = ResponseInit::new();
    let headers = web_sys::Headers::new().map_err(|e| js_error(&e))?;
    headers
        .set(TRAIN_HEADER, &data.train.len().to_string())
        .map_err(|e| js_error(&e))?;
    init.set_headers(&headers);
    let response =
        Response::new_with_opt_blob_and_init(Some(&blob), &init).map_err(|e| js_error(&e))?;
    let cache = cache().await?;
    JsFuture::from(cache.put_with_str(CACHE_KEY, &response))
        .await
        .map_err(|e| format!("the browser refused to store it ({})", js_error(&e)))?;
    Ok(())
}

/// The archive's bytes in JS memory: gzip'd as sent, or already inflated by the browser.
pub struct Archive {
    bytes: Uint8Array,
    inflated: bool,
}

/// Why there is no archive: the bytes did not come, or they are not a gzip stream.
pub enum LoadError {
    Unreachable(String),
    Invalid(String),
}

/// Downloads the archive, reporting progress (of the bytes sent, gzip'd).
pub async fn download(progress: impl Fn(DataStatus)) -> Result<Archive, LoadError> {
    let response = fetch(&web_sys::RequestInit::new())
        .await
        .map_err(LoadError::Unreachable)?;
    if !response.ok() {
        return Err(LoadError::Unreachable(format!(
            "the server answered {} {} for {ARCHIVE_URL}",
            response.status(),
            response.status_text()
        )));
    }
    let total = content_length(&response);
    let body = response.body().ok_or(LoadError::Unreachable(
        "the server sent an empty response".into(),
    ))?;
    let mut loaded = 0u64;
    let mut reported = 0u64;
    let archive = collect(body, "the download broke off", |n| {
        loaded += u64::from(n);
        if loaded - reported >= 1 << 20 {
            reported = loaded;
            progress(DataStatus::Downloading { loaded, total });
        }
    })
    .await?;
    progress(DataStatus::Downloading {
        loaded,
        total: Some(loaded),
    });
    Ok(archive)
}

/// The archive in a file the user picked (or dropped).
pub async fn read_file(file: &File) -> Result<Archive, String> {
    collect(file.stream(), "the file could not be read", |_| {})
        .await
        .map_err(|(LoadError::Unreachable(e) | LoadError::Invalid(e))| e)
}

/// Reads `stream` to its end, through the browser's gzip decoder where it has one, so
/// the inflating runs in native code while the bytes still arrive. `piece` sees the
/// length of each piece as it came; `broke` words a failed read.
async fn collect(
    stream: ReadableStream,
    broke: &str,
    mut piece: impl FnMut(u32),
) -> Result<Archive, LoadError> {
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let inflater = Inflater::new();
    let pieces = Array::new();
    let read = async {
        loop {
            let result = JsFuture::from(reader.read())
                .await
                .map_err(|e| LoadError::Unreachable(format!("{broke} ({})", js_error(&e))))?;
            if Reflect::get(&result, &"done".into()).map_or(true, |d| d.is_truthy()) {
                return Ok(());
            }
            let chunk: Uint8Array = Reflect::get(&result, &"value".into())
                .map_err(|e| LoadError::Unreachable(js_error(&e)))?
                .unchecked_into();
            piece(chunk.length());
            match &inflater {
                Some(inflater) => inflater.write(&chunk).await.map_err(LoadError::Invalid)?,
                None => {
                    pieces.push(&chunk);
                }
            }
        }
    }
    .await;
    if let Some(inflater) = inflater {
        let bytes = inflater.finish(read).await?;
        return Ok(Archive {
            bytes,
            inflated: true,
        });
    }
    read?;
    let unreachable = |e: JsValue| LoadError::Unreachable(format!("{broke} ({})", js_error(&e)));
    let blob = Blob::new_with_u8_array_sequence(&pieces).map_err(unreachable)?;
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(unreachable)?;
    Ok(Archive {
        bytes: Uint8Array::new(&buffer),
        inflated: false,
    })
}

#[wasm_bindgen]
extern "C" {
    /// The browser's gzip decoder (Compression Streams API), bound here because
    /// web-sys has it only behind its unstable-API flag.
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &DecompressionStream) -> ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &DecompressionStream) -> WritableStream;
}

/// A gzip stream being inflated by the browser: pieces written in, the whole tar out.
struct Inflater {
    writer: WritableStreamDefaultWriter,
    /// The inflated bytes (an ArrayBuffer), read as they come out. A future from the
    /// start, so its rejection (bad data) has a handler before it happens and is not
    /// reported as uncaught.
    out: JsFuture,
}

impl Inflater {
    /// `None` when the browser has no `DecompressionStream`.
    fn new() -> Option<Inflater> {
        let stream = DecompressionStream::new("gzip").ok()?;
        let writer = stream.writable().get_writer().ok()?;
        let out = Response::new_with_opt_readable_stream(Some(&stream.readable()))
            .ok()?
            .array_buffer()
            .ok()?
            .into();
        Some(Inflater { writer, out })
    }

    async fn write(&self, chunk: &Uint8Array) -> Result<(), String> {
        JsFuture::from(self.writer.write_with_chunk(chunk))
            .await
            .map(drop)
            .map_err(|e| not_gzip(&e))
    }

    /// The inflated bytes, once `read` (the reading of the input) ended well. Every
    /// promise is awaited either way, so none is left rejected and unhandled.
    async fn finish(self, read: Result<(), LoadError>) -> Result<Uint8Array, LoadError> {
        let closed = match &read {
            Ok(()) => JsFuture::from(self.writer.close())
                .await
                .map(drop)
                .map_err(|e| not_gzip(&e)),
            // The read failed already; the abort only settles the stream.
            Err(_) => {
                let _ = JsFuture::from(self.writer.abort()).await;
                Ok(())
            }
        };
        let out = self.out.await;
        read?;
        closed.map_err(LoadError::Invalid)?;
        out.map(|buffer| Uint8Array::new(&buffer))
            .map_err(|e| LoadError::Invalid(not_gzip(&e)))
    }
}

/// The message for bytes the gzip decoder refused, worded as the native reader's
/// (without the browser's "Failed to execute 'write' on ...:" preamble).
fn not_gzip(e: &JsValue) -> String {
    let message = js_error(e);
    let reason = match message.split_once("': ") {
        Some((preamble, reason)) if preamble.starts_with("Failed to execute") => reason,
        _ => &message,
    };
    let reason = reason.trim_end_matches('.');
    DataError::Archive(std::io::Error::other(reason.to_string())).to_string()
}

/// Parses the archive without copying it into wasm memory.
pub fn parse_archive(archive: &Archive) -> Result<Cifar10, String> {
    let reader = JsReader {
        bytes: archive.bytes.clone(),
        pos: 0,
    };
    if archive.inflated {
        Cifar10::from_tar(reader)
    } else {
        Cifar10::from_archive(reader)
    }
    .map_err(|e| e.to_string())
}

/// `Read` over a JS byte array.
struct JsReader {
    bytes: Uint8Array,
    pos: u32,
}

impl Read for JsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.bytes.length() - self.pos).min(buf.len() as u32);
        self.bytes
            .subarray(self.pos, self.pos + n)
            .copy_to(&mut buf[..n as usize]);
        self.pos += n;
        Ok(n as usize)
    }
}

/// Whether `value` is a `File` the page posted.
pub fn as_file(value: &JsValue) -> Option<File> {
    value.dyn_ref::<File>().cloned()
}
