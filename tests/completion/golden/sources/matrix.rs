//! Small dense matrices over f64.

use std::fmt;
use std::ops::{Add, Mul};

#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

#[derive(Debug, PartialEq)]
pub enum ShapeError {
    Mismatch { left: (usize, usize), right: (usize, usize) },
    Empty,
}

impl Matrix {
    pub fn zeros(rows: usize, cols: usize) -> Result<Self, ShapeError> {
        if rows == 0 || cols == 0 {
            return Err(ShapeError::Empty);
        }
        Ok(Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        })
    }

    pub fn identity(size: usize) -> Result<Self, ShapeError> {
        let mut matrix = Matrix::zeros(size, size)?;
        for i in 0..size {
            matrix.set(i, i, 1.0);
        }
        Ok(matrix)
    }

    pub fn get(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.cols + col]
    }

    pub fn set(&mut self, row: usize, col: usize, value: f64) {
        let index = row * self.cols + col;
        self.data[index] = value;
    }

    pub fn transpose(&self) -> Matrix {
        let mut out = Matrix {
            rows: self.cols,
            cols: self.rows,
            data: vec![0.0; self.data.len()],
        };
        for row in 0..self.rows {
            for col in 0..self.cols {
                out.set(col, row, self.get(row, col));
            }
        }
        out
    }

    pub fn multiply(&self, other: &Matrix) -> Result<Matrix, ShapeError> {
        if self.cols != other.rows {
            return Err(ShapeError::Mismatch {
                left: (self.rows, self.cols),
                right: (other.rows, other.cols),
            });
        }
        let mut out = Matrix::zeros(self.rows, other.cols)?;
        for row in 0..self.rows {
            for col in 0..other.cols {
                let mut sum = 0.0;
                for k in 0..self.cols {
                    sum += self.get(row, k) * other.get(k, col);
                }
                out.set(row, col, sum);
            }
        }
        Ok(out)
    }

    pub fn trace(&self) -> Option<f64> {
        if self.rows != self.cols {
            return None;
        }
        let mut total = 0.0;
        for i in 0..self.rows {
            total += self.get(i, i);
        }
        Some(total)
    }

    pub fn scale(&mut self, factor: f64) {
        for value in self.data.iter_mut() {
            *value *= factor;
        }
    }
}

impl Add for &Matrix {
    type Output = Result<Matrix, ShapeError>;

    fn add(self, other: &Matrix) -> Self::Output {
        if self.rows != other.rows || self.cols != other.cols {
            return Err(ShapeError::Mismatch {
                left: (self.rows, self.cols),
                right: (other.rows, other.cols),
            });
        }
        let data = self
            .data
            .iter()
            .zip(other.data.iter())
            .map(|(a, b)| a + b)
            .collect();
        Ok(Matrix {
            rows: self.rows,
            cols: self.cols,
            data,
        })
    }
}

impl Mul<f64> for Matrix {
    type Output = Matrix;

    fn mul(mut self, factor: f64) -> Matrix {
        self.scale(factor);
        self
    }
}

impl fmt::Display for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in 0..self.rows {
            let cells: Vec<String> = (0..self.cols)
                .map(|col| format!("{:.2}", self.get(row, col)))
                .collect();
            writeln!(f, "[{}]", cells.join(", "))?;
        }
        Ok(())
    }
}
