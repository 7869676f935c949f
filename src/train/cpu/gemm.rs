//! Matrix products over slices, for our CPU kernels: a strided view of a matrix and
//! one call into the `gemm` crate (single-threaded: the kernels spread work over
//! images or groups themselves).

/// A row-major or transposed view of a matrix inside a slice.
#[derive(Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
    pub fn rows_len(&self) -> usize {
        self.rows
    }
    pub fn cols_len(&self) -> usize {
        self.cols
    }
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
    fn fits(&self, len: usize) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < len
    }
}

/// `dst` (row-major `[lhs.rows, rhs.cols]`) = lhs * rhs, or += with `accumulate`.
pub fn gemm(dst: &mut [f32], lhs: View, rhs: View, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(rhs.rows == k && dst.len() >= m * n && lhs.fits(lhs.data.len()));
    assert!(rhs.fits(rhs.data.len()));
    // SAFETY: the asserts above keep every index gemm touches inside the three slices,
    // and `dst` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}
