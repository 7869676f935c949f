//! Getting CIFAR-10 into the worker: from the browser's cache, from the server (with
//! download progress) or from a file the user picked. Downloaded bytes stay in JS
//! memory and are decompressed through a small reader, so wasm memory only ever holds
//! the parsed records (184 MB), never the archive as well.

use std::io::Read;

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, Cache, File, ReadableStreamDefaultReader, Response, ResponseInit};

use super::js::{js_error, scope};
use crate::data::cifar::RECORD_BYTES;
use crate::data::{Cifar10, Split};
use crate::run::protocol::{DataStatus, ARCHIVE_URL};

/// The parsed records are kept here (Cache API) so a reload skips the download.
const CACHE_NAME: &str = "regnet-playground";
const CACHE_KEY: &str = "/regnet-playground/cifar10-records-v1";
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
    const CHUNK: usize = 4096;
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

/// Keeps `data` for the next visit; the error says why it could not.
pub async fn store(data: &Cifar10) -> Result<(), String> {
    let splits = [&data.train, &data.test];
    let total: usize = splits.iter().map(|s| s.len()).sum();
    let out = Uint8Array::new_with_length((total * RECORD_BYTES) as u32);
    let mut offset = 0u32;
    let mut record = Vec::with_capacity(RECORD_BYTES);
    for split in splits {
        for i in 0..split.len() {
            record.clear();
            record.push(split.labels[i]);
            record.extend_from_slice(split.image(i));
            out.subarray(offset, offset + RECORD_BYTES as u32)
                .copy_from(&record);
            offset += RECORD_BYTES as u32;
        }
    }
    let init = ResponseInit::new();
    let headers = web_sys::Headers::new().map_err(|e| js_error(&e))?;
    headers
        .set(TRAIN_HEADER, &data.train.len().to_string())
        .map_err(|e| js_error(&e))?;
    init.set_headers(&headers);
    let response = Response::new_with_opt_buffer_source_and_init(Some(&out), &init)
        .map_err(|e| js_error(&e))?;
    let cache = cache().await?;
    JsFuture::from(cache.put_with_str(CACHE_KEY, &response))
        .await
        .map_err(|e| format!("the browser refused to store it ({})", js_error(&e)))?;
    Ok(())
}

/// Downloads the archive, reporting progress; returns its bytes (in JS memory).
pub async fn download(progress: impl Fn(DataStatus)) -> Result<Uint8Array, String> {
    let response = fetch(&web_sys::RequestInit::new()).await?;
    if !response.ok() {
        return Err(format!(
            "the server answered {} {} for {ARCHIVE_URL}",
            response.status(),
            response.status_text()
        ));
    }
    let total = content_length(&response);
    let body = response.body().ok_or("the server sent an empty response")?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let chunks = Array::new();
    let mut loaded = 0u64;
    let mut reported = 0u64;
    loop {
        let result = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("the download broke off ({})", js_error(&e)))?;
        let done = Reflect::get(&result, &"done".into()).map_or(true, |d| d.is_truthy());
        if done {
            break;
        }
        let chunk: Uint8Array = Reflect::get(&result, &"value".into())
            .map_err(|e| js_error(&e))?
            .unchecked_into();
        loaded += u64::from(chunk.length());
        chunks.push(&chunk);
        if loaded - reported >= 1 << 20 {
            reported = loaded;
            progress(DataStatus::Downloading { loaded, total });
        }
    }
    progress(DataStatus::Downloading {
        loaded,
        total: Some(loaded),
    });
    let blob = Blob::new_with_u8_array_sequence(&chunks).map_err(|e| js_error(&e))?;
    bytes_of(&blob).await
}

/// The bytes of a file the user picked (or dropped).
pub async fn read_file(file: &File) -> Result<Uint8Array, String> {
    bytes_of(file).await
}

async fn bytes_of(blob: &Blob) -> Result<Uint8Array, String> {
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| format!("the file could not be read ({})", js_error(&e)))?;
    Ok(Uint8Array::new(&buffer))
}

/// Decompresses and parses the archive without copying it into wasm memory.
pub fn parse_archive(bytes: &Uint8Array) -> Result<Cifar10, String> {
    let reader = JsReader {
        bytes: bytes.clone(),
        pos: 0,
    };
    Cifar10::from_archive(reader).map_err(|e| e.to_string())
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
