//! The module's only allocator: a bump pointer over linear memory with
//! power-of-two free lists, shaped after OPA's own `malloc.c`.
//!
//! The OPA Wasm ABI lets the host move the heap pointer (`opa_heap_ptr_set`)
//! and even write into memory above it (the `opa_eval` fast path writes the
//! input at the pointer it recorded after loading `data`). So:
//! - everything above the bump pointer is free, always;
//! - resetting the pointer forgets every free list (a freed block above the new
//!   pointer would otherwise be handed out twice; a freed block below it just
//!   leaks until the next reset).

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::ptr;

const PAGE: usize = 65536;
/// Smallest block: 16 bytes (also the alignment of every block).
const MIN_CLASS: usize = 4;
const CLASSES: usize = 32;

static mut BUMP: usize = 0;
static mut FREE: [usize; CLASSES] = [0; CLASSES];

unsafe extern "C" {
    static __heap_base: u8;
}

pub struct Heap;

#[inline]
fn class_of(size: usize, align: usize) -> usize {
    let sz = size.max(align).max(1 << MIN_CLASS);
    (usize::BITS - (sz - 1).leading_zeros()) as usize
}

/// Start of the heap: the compiler patches `heap_start` past the embedded
/// policy blob; an unpatched runtime starts at `__heap_base`.
fn initial_heap() -> usize {
    let patched = crate::desc_heap_start();
    let base = if patched != 0 {
        patched
    } else {
        ptr::addr_of!(__heap_base) as usize
    };
    (base + 15) & !15
}

#[inline]
unsafe fn bump(size: usize, align: usize) -> *mut u8 {
    unsafe {
        if BUMP == 0 {
            BUMP = initial_heap();
        }
        let align = align.max(16);
        let Some(start) = BUMP.checked_add(align - 1).map(|v| v & !(align - 1)) else {
            return ptr::null_mut();
        };
        let Some(end) = start.checked_add(size) else {
            return ptr::null_mut();
        };
        let have = wasm32::memory_size(0) * PAGE;
        if end > have {
            let need = (end - have).div_ceil(PAGE);
            if wasm32::memory_grow(0, need) == usize::MAX {
                return ptr::null_mut();
            }
        }
        BUMP = end;
        start as *mut u8
    }
}

pub fn heap_ptr_get() -> usize {
    unsafe {
        if BUMP == 0 {
            BUMP = initial_heap();
        }
        BUMP
    }
}

pub fn heap_ptr_set(p: usize) {
    unsafe {
        BUMP = p;
        FREE = [0; CLASSES];
    }
}

unsafe impl GlobalAlloc for Heap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            let c = class_of(layout.size(), layout.align());
            if c >= CLASSES {
                return ptr::null_mut();
            }
            if layout.align() <= 16 {
                let head = FREE[c];
                if head != 0 {
                    FREE[c] = *(head as *const usize);
                    return head as *mut u8;
                }
            }
            bump(1 << c, layout.align())
        }
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe {
            if layout.align() > 16 {
                return; // rare; leaks until the next heap reset
            }
            let c = class_of(layout.size(), layout.align());
            *(p as *mut usize) = FREE[c];
            FREE[c] = p as usize;
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            let old = class_of(layout.size(), layout.align());
            let new = class_of(new_size, layout.align());
            if new <= old {
                return p;
            }
            if new >= CLASSES {
                return ptr::null_mut();
            }
            // The block on top of the heap grows in place.
            if layout.align() <= 16 && p as usize + (1 << old) == BUMP {
                let end = p as usize + (1 << new);
                let have = wasm32::memory_size(0) * PAGE;
                if end > have && wasm32::memory_grow(0, (end - have).div_ceil(PAGE)) == usize::MAX {
                    return ptr::null_mut();
                }
                BUMP = end;
                return p;
            }
            let q = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, layout.size());
                self.dealloc(p, layout);
            }
            q
        }
    }
}

/// `opa_malloc` blocks carry their size in a 16-byte header so that
/// `opa_free(ptr)` can find their class.
pub fn opa_malloc(size: usize) -> *mut u8 {
    unsafe {
        let total = match size.checked_add(16) {
            Some(t) => t,
            None => return ptr::null_mut(),
        };
        let p = Heap.alloc(Layout::from_size_align_unchecked(total, 16));
        if p.is_null() {
            return p;
        }
        *(p as *mut usize) = total;
        p.add(16)
    }
}

pub fn opa_free(p: *mut u8) {
    if p.is_null() {
        return;
    }
    unsafe {
        let base = p.sub(16);
        let total = *(base as *const usize);
        Heap.dealloc(base, Layout::from_size_align_unchecked(total, 16));
    }
}

/// Copies `bytes` plus a NUL into an `opa_malloc` block (freeable by the host).
pub fn malloc_cstr(bytes: &[u8]) -> *mut u8 {
    let p = opa_malloc(bytes.len() + 1);
    if !p.is_null() {
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *p.add(bytes.len()) = 0;
        }
    }
    p
}
