use traced::testing::Capture;
use traced::traced;

#[traced(tags(db.type = "mongo", n = 3))]
fn inner(x: u32) -> Result<u32, std::num::ParseIntError> {
    let v: u32 = "12".parse()?;
    if x == 0 {
        return Ok(0);
    }
    Ok(v + x)
}

#[traced]
fn outer() -> u32 {
    inner(1).unwrap()
}

#[traced(args, ret)]
async fn aouter(x: u32) -> Result<u32, String> {
    let r = inner(x).map_err(|e| e.to_string())?;
    Ok(r)
}

#[test]
fn smoke() {
    let capture = Capture::install();
    assert_eq!(outer(), 13);
    let spans = capture.take();
    assert_eq!(spans.len(), 2, "{spans:?}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(aouter(2)).unwrap();
    let spans = capture.take();
    assert_eq!(spans.len(), 2, "{spans:?}");
}
