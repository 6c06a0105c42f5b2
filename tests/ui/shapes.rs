// Every shape `#[traced]` supports, compiled by the trybuild pass suite under
// `#![deny(warnings)]` and by `tests/lints.rs` under `#![deny(clippy::all, clippy::pedantic)]`.
// No inner attributes here: this file is `include!`d.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use traced::{traced, Context};

#[traced]
fn free() {}

/// Docs and attributes stay.
#[traced(name = "generic", tags(kind = "generic"))]
#[inline]
pub fn generic_where<'a, T, const N: usize>(items: &'a [T; N], pick: impl Fn(&T) -> bool) -> Option<&'a T>
where
    T: Debug + 'a,
{
    items.iter().find(|item| pick(item))
}

#[traced(ret)]
fn returns_impl(n: u32) -> impl Display {
    n * 2
}

#[traced(args)]
fn destructures((a, b): (u32, u32), Point { x, y }: Point, [first, ..]: [u8; 3]) -> u32 {
    a + b + x + y + u32::from(first)
}

struct Point {
    x: u32,
    y: u32,
}

/// # Safety
/// `ptr` must be valid for reads.
#[traced]
unsafe fn reads(ptr: *const u32) -> u32 {
    // SAFETY: the caller promises `ptr` is valid for reads.
    unsafe { *ptr }
}

#[traced]
fn question_mark(text: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = text.parse()?;
    if n == 0 {
        return Ok(1);
    }
    Ok(n)
}

#[traced(context = parent, tags(user = %user))]
fn explicit(parent: &Context, user: &str) -> Context {
    // `parent` is this span's context here.
    parent.clone()
}

#[traced]
fn explicit_by_value(cx: Context) -> bool {
    cx.is_valid()
}

#[traced(kind = client, follows_from, args, skip(secret), crate = ::traced)]
fn every_argument(id: u64, secret: &str) -> usize {
    usize::try_from(id).unwrap_or_default() + secret.len()
}

struct Repository {
    db: String,
    calls: u32,
}

impl Repository {
    #[traced(tags(db.instance = self.db.clone()))]
    fn by_ref(&self) -> &str {
        &self.db
    }

    #[traced]
    fn by_mut(&mut self) -> &mut u32 {
        self.calls += 1;
        &mut self.calls
    }

    #[traced]
    fn by_value(self) -> String {
        self.db
    }

    // The lints of the plain function hold for the traced one: its body is not moved.
    #[allow(clippy::boxed_local)]
    #[traced]
    fn boxed(self: Box<Self>) -> u32 {
        self.calls
    }

    #[traced]
    fn shared(self: Arc<Self>) -> usize {
        self.db.len()
    }

    #[traced]
    async fn async_by_ref(&self) -> usize {
        self.db.len()
    }
}

#[traced]
async fn async_free(n: u32) -> Result<u32, String> {
    let parsed = question_mark(&n.to_string()).map_err(|e| e.to_string())?;
    Ok(parsed)
}

trait Native {
    async fn fetch(&self) -> u32;
}

#[traced(tags(db.type = "mongo"))]
impl Native for Repository {
    async fn fetch(&self) -> u32 {
        self.calls
    }
}

#[async_trait::async_trait]
trait Boxed {
    async fn load(&self, id: u32) -> Option<u32>;
}

struct TracedFirst;
struct AsyncTraitFirst;
struct OnMethod;

#[traced]
#[async_trait::async_trait]
impl Boxed for TracedFirst {
    async fn load(&self, id: u32) -> Option<u32> {
        Some(id)
    }
}

#[async_trait::async_trait]
#[traced]
impl Boxed for AsyncTraitFirst {
    async fn load(&self, id: u32) -> Option<u32> {
        Some(id)
    }
}

#[async_trait::async_trait]
impl Boxed for OnMethod {
    #[traced(name = "OnMethod::load")]
    async fn load(&self, id: u32) -> Option<u32> {
        Some(id)
    }
}

struct Block {
    layer: &'static str,
}

#[traced(tags(layer = "service"))]
impl Block {
    fn new() -> Self {
        Block { layer: "service" }
    }

    #[traced(name = "Block.renamed")]
    fn renamed(&self) -> &str {
        self.layer
    }

    #[traced(off)]
    fn untraced(&self) -> usize {
        self.layer.len()
    }
}

trait Ret {
    fn ret(&self) -> u8;
}

struct Thing;

impl Ret for Thing {
    fn ret(&self) -> u8 {
        7
    }
}

// Return types that the body reaches by coercion: early `return` and tail alike.
#[traced]
async fn coerces_to_dyn() -> &'static dyn Ret {
    return &Thing;
}

#[traced]
async fn coerces_to_box(early: bool) -> Box<dyn Display> {
    if early {
        return Box::new(1);
    }
    Box::new("tail")
}

#[traced]
async fn coerces_to_slice() -> &'static [u8] {
    &[1, 2]
}

#[traced]
fn sync_coerces_to_box(early: bool) -> Box<dyn Display> {
    if early {
        return Box::new(1);
    }
    Box::new("tail")
}

/// # Panics
/// Always: it never returns.
#[traced]
pub fn never_returns(message: &str) -> ! {
    panic!("{message}")
}

/// # Panics
/// Always: it never returns.
#[traced]
pub async fn never_resolves(message: &str) -> ! {
    panic!("{message}")
}

#[traced]
fn loops_forever() -> ! {
    #[allow(clippy::empty_loop)]
    loop {}
}

#[async_trait::async_trait]
trait Unfinished {
    async fn later(&self);
}

#[async_trait::async_trait]
#[traced]
impl Unfinished for AsyncTraitFirst {
    async fn later(&self) {
        unimplemented!()
    }
}

// As the plain function needs it: the body is not moved into a closure that would consume
// `owned`.
#[allow(clippy::needless_pass_by_value)]
#[traced(tags(owned = &owned, twice = &&owned))]
fn tags_by_reference(owned: String) -> usize {
    owned.len()
}

#[traced]
fn shared_future(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send + Sync>> {
    Box::pin(async move { n + 1 })
}

#[traced]
fn returned_future(n: u32) -> impl Future<Output = u32> {
    // Runs when called, before the future's span starts.
    let doubled = n * 2;
    async move { doubled + n }
}

#[traced(args)]
fn gated(#[cfg(any())] hidden: u32, #[cfg(all())] shown: u32) -> u32 {
    shown
}

#[track_caller]
#[traced]
fn caller_line() -> u32 {
    std::panic::Location::caller().line()
}

#[expect(dead_code)]
#[traced]
fn never_called() {}

#[traced]
async fn yields_a_future() -> std::future::Ready<()> {
    std::future::ready(())
}

#[traced(tags(s = "explicit"), args)]
fn tag_beats_argument(s: &str) -> usize {
    s.len()
}

impl Repository {
    #[traced(skip(self))]
    fn skips_self(&self) -> u32 {
        self.calls
    }

    #[traced(args, skip(self, db))]
    fn skips_self_and_more(&self, db: &str) -> usize {
        db.len() + self.db.len()
    }
}

// One-line bodies, as many write them: the user's braces around a lone expression must not
// turn into `unused_braces` where the expansion places the block (its tail, a `let`, a closure).
#[rustfmt::skip]
#[traced]
fn one_line(a: u64, b: u64) -> u64 { a.wrapping_add(b) }

#[rustfmt::skip]
#[traced(tags(n = a))]
fn one_line_result(a: u64) -> Result<u64, String> { if a > 0 { Ok(a) } else { Err(String::from("zero")) } }

#[rustfmt::skip]
#[traced(ret)]
fn one_line_ret(a: u64) -> u64 { a + 1 }

#[rustfmt::skip]
#[traced]
fn one_line_loop(calls: u64) { for i in 0..calls { std::hint::black_box(i); } }

#[rustfmt::skip]
#[traced]
#[track_caller]
fn one_line_track_caller() -> u32 { std::panic::Location::caller().line() }

#[rustfmt::skip]
#[traced]
async fn one_line_async(a: u64) -> u64 { std::future::ready(a + 1).await }

#[rustfmt::skip]
#[traced]
#[allow(clippy::manual_async_fn)] // the shape under test
fn one_line_future(a: u64) -> impl Future<Output = u64> { async move { a + 1 } }

fn assert_sync<T: Sync>(value: T) -> T {
    value
}

/// Calls every shape once.
fn run() {
    free();
    let _ = generic_where(&[1, 2, 3], |n| *n > 1);
    let _ = returns_impl(2).to_string();
    let _ = destructures((1, 2), Point { x: 3, y: 4 }, [5, 6, 7]);
    let value = 7;
    // SAFETY: a reference is valid for reads.
    let _ = unsafe { reads(&raw const value) };
    let _ = question_mark("3");
    let _ = explicit(&Context::NONE, "ann");
    let _ = explicit_by_value(Context::NONE);
    let _ = every_argument(1, "secret");
    let mut repo = Repository { db: "gallery".to_owned(), calls: 0 };
    let _ = repo.by_ref().len();
    *repo.by_mut() += 1;
    let _ = Box::new(Repository { db: String::new(), calls: 1 }).boxed();
    let _ = Arc::new(Repository { db: String::new(), calls: 1 }).shared();
    let block = Block::new();
    let _ = block.renamed();
    let _ = block.untraced();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let _ = repo.async_by_ref().await;
        let _ = repo.fetch().await;
        let _ = async_free(4).await;
        let _ = TracedFirst.load(1).await;
        let _ = AsyncTraitFirst.load(2).await;
        let _ = OnMethod.load(3).await;
    });
    let _ = sync_coerces_to_box(true).to_string();
    // The diverging shapes panic; the test output need not show it.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let _ = std::panic::catch_unwind(|| never_returns("never returns"));
    let _ = loops_forever as fn() -> !;
    let _ = tags_by_reference("owned".to_owned());
    let _ = gated(#[cfg(all())] 3);
    let _ = caller_line();
    let _ = tag_beats_argument("argument");
    let _ = repo.skips_self();
    let _ = repo.skips_self_and_more("db");
    runtime.block_on(async {
        let _ = coerces_to_dyn().await.ret();
        let _ = coerces_to_box(false).await.to_string();
        let _ = coerces_to_slice().await.len();
        let _ = assert_sync(shared_future(1)).await;
        let _ = returned_future(2).await;
        yields_a_future().await.await;
    });
    let never = std::panic::catch_unwind(|| runtime.block_on(never_resolves("never resolves")));
    let unfinished = std::panic::catch_unwind(|| runtime.block_on(AsyncTraitFirst.later()));
    std::panic::set_hook(hook);
    assert!(never.is_err() && unfinished.is_err());
    let _ = one_line(1, 2);
    let _ = one_line_result(1);
    let _ = one_line_ret(1);
    one_line_loop(2);
    let _ = one_line_track_caller();
    runtime.block_on(async {
        let _ = one_line_async(1).await;
        let _ = one_line_future(1).await;
    });
    let _ = repo.by_value();
}
