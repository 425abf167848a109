//! Descriptor paths: the field numbers of `descriptor.proto` that address an element in
//! `SourceCodeInfo` (`[6, 0, 2, 1]` is service 0, method 1), and the one conversion of an
//! element's position into a path index.

/// `FileDescriptorProto.message_type`.
pub(crate) const FILE_MESSAGE: i32 = 4;
/// `FileDescriptorProto.enum_type`.
pub(crate) const FILE_ENUM: i32 = 5;
/// `FileDescriptorProto.service`.
pub(crate) const FILE_SERVICE: i32 = 6;
/// `DescriptorProto.field`.
pub(crate) const MESSAGE_FIELD: i32 = 2;
/// `DescriptorProto.nested_type`.
pub(crate) const MESSAGE_NESTED: i32 = 3;
/// `DescriptorProto.enum_type`.
pub(crate) const MESSAGE_ENUM: i32 = 4;
/// `DescriptorProto.oneof_decl`.
pub(crate) const MESSAGE_ONEOF: i32 = 8;
/// `EnumDescriptorProto.value`.
pub(crate) const ENUM_VALUE: i32 = 2;
/// `ServiceDescriptorProto.method`.
pub(crate) const SERVICE_METHOD: i32 = 2;

/// `path` extended by the element at `index` of the repeated field `field`.
pub(crate) fn child(path: &[i32], field: i32, index: usize) -> Vec<i32> {
    let mut child = Vec::with_capacity(path.len() + 2);
    child.extend_from_slice(path);
    child.extend([field, index_i32(index)]);
    child
}

/// A position in a repeated field as a path element.
fn index_i32(index: usize) -> i32 {
    // A descriptor cannot hold 2^31 elements of one kind: protobuf's own limits are lower.
    i32::try_from(index).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_extend_the_path() {
        assert_eq!(child(&[], FILE_SERVICE, 0), [6, 0]);
        assert_eq!(child(&[6, 0], SERVICE_METHOD, 3), [6, 0, 2, 3]);
    }
}
