//! [`Rect`]: `x, y, width, height` in pixels.

/// A rectangle of an image: its top-left corner and size, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// The rectangle at `x, y` of `w` by `h` pixels.
    pub const fn new(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    /// All of an image of `width` by `height`.
    pub const fn all(width: u32, height: u32) -> Rect {
        Rect::new(0, 0, width, height)
    }

    /// Parse `x,y,w,h` (`kennel screen crop`).
    ///
    /// ```
    /// use kennel_screen::Rect;
    /// assert_eq!(Rect::parse("0,16, 640,32"), Some(Rect::new(0, 16, 640, 32)));
    /// assert_eq!(Rect::parse("0,16,640"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Rect> {
        let numbers: Vec<u32> = text
            .split(',')
            .map(|n| n.trim().parse().ok())
            .collect::<Option<_>>()?;
        match numbers[..] {
            [x, y, w, h] if w > 0 && h > 0 => Some(Rect::new(x, y, w, h)),
            _ => None,
        }
    }

    /// Whether it lies inside an image of `width` by `height` (and is not empty).
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.w > 0
            && self.h > 0
            && u64::from(self.x) + u64::from(self.w) <= u64::from(width)
            && u64::from(self.y) + u64::from(self.h) <= u64::from(height)
    }

    /// The part of `other` inside this rectangle, in this rectangle's own
    /// coordinates; `None` when they do not overlap.
    pub fn relative(&self, other: &Rect) -> Option<Rect> {
        let left = self.x.max(other.x);
        let top = self.y.max(other.y);
        let right = (self.x + self.w).min(other.x.saturating_add(other.w));
        let bottom = (self.y + self.h).min(other.y.saturating_add(other.h));
        (left < right && top < bottom)
            .then(|| Rect::new(left - self.x, top - self.y, right - left, bottom - top))
    }
}

impl std::fmt::Display for Rect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}, {}, {}]", self.x, self.y, self.w, self.h)
    }
}

#[cfg(test)]
mod tests {
    use super::Rect;

    #[test]
    fn a_rectangle_fits_only_wholly_inside() {
        assert!(Rect::new(0, 0, 640, 480).fits(640, 480));
        assert!(!Rect::new(1, 0, 640, 480).fits(640, 480));
        assert!(!Rect::new(0, 0, 0, 4).fits(640, 480));
        assert!(!Rect::new(u32::MAX, 0, 2, 2).fits(640, 480));
    }

    #[test]
    fn the_overlap_is_in_the_outer_rectangles_coordinates() {
        let region = Rect::new(100, 10, 50, 20);

        assert_eq!(
            region.relative(&Rect::new(140, 0, 100, 15)),
            Some(Rect::new(40, 0, 10, 5))
        );
        assert_eq!(region.relative(&Rect::new(0, 0, 100, 10)), None);
    }
}
