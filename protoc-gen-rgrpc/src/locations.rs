//! Source locations for every element prost-build documents.
//!
//! prost-build looks up the location of each message, field, oneof, enum and enum value
//! it generates, and panics when one is missing (an `unwrap` of its binary search). protoc
//! always sends every location, but another producer may send only some (say, only those
//! with comments), and such a request is still valid: the missing ones are added, empty.

use std::collections::HashSet;

use prost_types::source_code_info::Location;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};

use crate::request::paths::{
    ENUM_VALUE, FILE_ENUM, FILE_MESSAGE, MESSAGE_ENUM, MESSAGE_FIELD, MESSAGE_NESTED,
    MESSAGE_ONEOF, child,
};

/// Adds an empty location for every element of `file` that has none, if `file` has
/// source info at all (without any, prost-build looks nothing up).
pub(crate) fn complete(file: &mut FileDescriptorProto) {
    let Some(info) = file.source_code_info.as_mut() else {
        return;
    };
    let mut paths = Vec::new();
    for (index, message) in file.message_type.iter().enumerate() {
        message_paths(&child(&[], FILE_MESSAGE, index), message, &mut paths);
    }
    for (index, enumeration) in file.enum_type.iter().enumerate() {
        enum_paths(&child(&[], FILE_ENUM, index), enumeration, &mut paths);
    }
    let mut present: HashSet<Vec<i32>> = info.location.iter().map(|l| l.path.clone()).collect();
    for path in paths {
        if present.insert(path.clone()) {
            info.location.push(Location {
                path,
                ..Default::default()
            });
        }
    }
}

fn message_paths(path: &[i32], message: &DescriptorProto, paths: &mut Vec<Vec<i32>>) {
    paths.push(path.to_vec());
    for index in 0..message.field.len() {
        paths.push(child(path, MESSAGE_FIELD, index));
    }
    for index in 0..message.oneof_decl.len() {
        paths.push(child(path, MESSAGE_ONEOF, index));
    }
    for (index, nested) in message.nested_type.iter().enumerate() {
        message_paths(&child(path, MESSAGE_NESTED, index), nested, paths);
    }
    for (index, enumeration) in message.enum_type.iter().enumerate() {
        enum_paths(&child(path, MESSAGE_ENUM, index), enumeration, paths);
    }
}

fn enum_paths(path: &[i32], enumeration: &EnumDescriptorProto, paths: &mut Vec<Vec<i32>>) {
    paths.push(path.to_vec());
    for index in 0..enumeration.value.len() {
        paths.push(child(path, ENUM_VALUE, index));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{EnumValueDescriptorProto, FieldDescriptorProto, SourceCodeInfo};

    #[test]
    fn missing_locations_are_added_once_and_present_ones_kept() {
        let commented = Location {
            path: vec![4, 0, 2, 0],
            leading_comments: Some(" kept\n".to_owned()),
            ..Default::default()
        };
        let mut file = FileDescriptorProto {
            message_type: vec![DescriptorProto {
                field: vec![FieldDescriptorProto::default()],
                nested_type: vec![DescriptorProto::default()],
                ..Default::default()
            }],
            enum_type: vec![EnumDescriptorProto {
                value: vec![EnumValueDescriptorProto::default()],
                ..Default::default()
            }],
            source_code_info: Some(SourceCodeInfo {
                location: vec![commented.clone()],
            }),
            ..Default::default()
        };
        complete(&mut file);
        let locations = file.source_code_info.unwrap().location;
        let mut paths: Vec<&[i32]> = locations.iter().map(|l| l.path.as_slice()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                &[4, 0][..],
                &[4, 0, 2, 0],
                &[4, 0, 3, 0],
                &[5, 0],
                &[5, 0, 2, 0],
            ]
        );
        assert!(locations.contains(&commented));
    }

    #[test]
    fn a_file_without_source_info_stays_without() {
        let mut file = FileDescriptorProto {
            message_type: vec![DescriptorProto::default()],
            ..Default::default()
        };
        complete(&mut file);
        assert_eq!(file.source_code_info, None);
    }
}
