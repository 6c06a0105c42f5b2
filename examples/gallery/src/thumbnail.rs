//! Thumbnails: a PNG decoded, shrunk to fit a square by averaging the pixels each thumbnail
//! pixel covers, and encoded again. Real work on real images: done on the request path, it is
//! the demo's slowdown to find.

use traced::traced;

/// The thumbnail's largest side.
pub const SIDE: u32 = 128;

/// Why an image has no thumbnail.
#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    /// Not a PNG this can read.
    #[error("not a PNG that can be read: {0}")]
    Decode(String),
    /// Encoding the thumbnail failed.
    #[error("encoding the thumbnail failed: {0}")]
    Encode(String),
}

/// The thumbnail of the PNG `bytes`, as a PNG.
#[traced(tags(image.bytes = bytes.len()))]
pub fn make_thumbnail(bytes: &[u8]) -> Result<Vec<u8>, ThumbnailError> {
    let decode = |e: png::DecodingError| ThumbnailError::Decode(e.to_string());
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(decode)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| ThumbnailError::Decode("the image is too large".into()))?;
    let mut pixels = vec![0; size];
    let frame = reader.next_frame(&mut pixels).map_err(decode)?;
    let channels = frame.color_type.samples();
    let (width, height) = (frame.width, frame.height);
    traced::tag("image.width", width);
    traced::tag("image.height", height);
    let scale = (width.max(height) as f64 / f64::from(SIDE)).max(1.0);
    let (tw, th) = (
        ((width as f64 / scale).round() as u32).max(1),
        ((height as f64 / scale).round() as u32).max(1),
    );
    let mut thumb = vec![0u8; (tw * th * 4) as usize];
    for ty in 0..th {
        let (y0, y1) = (
            ty * height / th,
            ((ty + 1) * height / th).max(ty * height / th + 1),
        );
        for tx in 0..tw {
            let (x0, x1) = (
                tx * width / tw,
                ((tx + 1) * width / tw).max(tx * width / tw + 1),
            );
            let mut sum = [0u64; 4];
            for y in y0..y1 {
                for x in x0..x1 {
                    let at = ((y * width + x) as usize) * channels;
                    let px = &pixels[at..at + channels];
                    let rgba = match channels {
                        1 => [px[0], px[0], px[0], 255],
                        2 => [px[0], px[0], px[0], px[1]],
                        3 => [px[0], px[1], px[2], 255],
                        _ => [px[0], px[1], px[2], px[3]],
                    };
                    for (s, v) in sum.iter_mut().zip(rgba) {
                        *s += u64::from(v);
                    }
                }
            }
            let n = u64::from((y1 - y0) * (x1 - x0));
            let at = ((ty * tw + tx) * 4) as usize;
            for (i, s) in sum.iter().enumerate() {
                thumb[at + i] = (s / n) as u8;
            }
        }
    }
    let encode = |e: png::EncodingError| ThumbnailError::Encode(e.to_string());
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, tw, th);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(encode)?;
    writer.write_image_data(&thumb).map_err(encode)?;
    writer.finish().map_err(encode)?;
    Ok(out)
}

/// A `width` × `height` PNG of a colour gradient: what the demo uploads.
pub fn gradient(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            pixels.extend_from_slice(&[
                (x * 255 / width.max(1)) as u8 ^ seed,
                (y * 255 / height.max(1)) as u8,
                seed.wrapping_mul(3),
                255,
            ]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    // Encoding into memory cannot fail for a buffer of the right size.
    if let Ok(mut writer) = encoder.write_header() {
        let _ = writer.write_image_data(&pixels);
        let _ = writer.finish();
    }
    out
}

#[cfg(test)]
mod tests {
    use traced::TagValue;
    use traced::testing::Capture;

    use super::*;

    #[test]
    fn a_thumbnail_fits_the_square_keeps_the_aspect_and_averages_colours() {
        // Held by every test making traced calls: the tracer is global, and the spans would
        // otherwise land in the capture of a test running beside this one.
        let capture = Capture::install();
        let large = gradient(512, 256, 0);
        let thumb = make_thumbnail(&large).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&thumb));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (128, 64));
        assert!(matches!(
            make_thumbnail(b"\x89PNG\r\n\x1a\n nope"),
            Err(ThumbnailError::Decode(_))
        ));
        let small = make_thumbnail(&gradient(10, 20, 7)).unwrap();
        let info = png::Decoder::new(std::io::Cursor::new(&small))
            .read_info()
            .unwrap()
            .info()
            .clone();
        assert_eq!(
            (info.width, info.height),
            (10, 20),
            "small images are not enlarged"
        );
        let made = &capture.spans_named("make_thumbnail")[0];
        assert_eq!(
            made.tag("image.bytes"),
            Some(TagValue::Integer(i64::try_from(large.len()).unwrap()))
        );
        assert_eq!(made.tag("image.width"), Some(TagValue::Integer(512)));
        assert_eq!(made.tag("image.height"), Some(TagValue::Integer(256)));
    }
}
