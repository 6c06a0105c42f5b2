//! gzip (RFC 1952) around miniz_oxide's deflate, which the default build already holds (through
//! `backtrace`): the header, the deflated body, the CRC-32 and the length. No new crate.

/// The CRC-32 (IEEE, reflected) table, built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, b| {
        CRC_TABLE[((crc ^ u32::from(*b)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

/// `data` gzipped, at deflate level 1: on 1,024-span batches a tenth larger than gzip's default
/// level 6 and three times as fast (0.66 M spans/s against 0.21 M, with the encoding;
/// `benches/otlp_encode.rs`), and the reporter thread's time is what bounds its throughput.
pub(super) fn compress(data: &[u8]) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, 1);
    let mut out = Vec::with_capacity(deflated.len() + 18);
    // Magic, deflate, no flags, no time, "fastest" (4), unknown OS.
    out.extend_from_slice(&[0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 4, 255]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    // The length modulo 2^32, as the format says.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn gzip_round_trips_through_an_inflater() {
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let gz = compress(&data);
        assert_eq!(&gz[..3], &[0x1F, 0x8B, 8]);
        let body = &gz[10..gz.len() - 8];
        assert_eq!(miniz_oxide::inflate::decompress_to_vec(body).unwrap(), data);
        assert_eq!(gz[gz.len() - 8..gz.len() - 4], crc32(&data).to_le_bytes());
        assert_eq!(gz[gz.len() - 4..], 40_000u32.to_le_bytes());
    }
}
