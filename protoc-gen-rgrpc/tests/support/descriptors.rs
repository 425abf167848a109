//! Small builders of descriptors and requests for hand-made test cases, shaped as protoc
//! shapes them (proto3, json names set, fully-qualified type names given by the caller).

#![allow(dead_code)] // each test file uses its own subset

use prost_types::compiler::CodeGeneratorRequest;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    FileDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto,
};

pub fn request(files: Vec<FileDescriptorProto>, to_generate: &[&str]) -> CodeGeneratorRequest {
    CodeGeneratorRequest {
        file_to_generate: to_generate.iter().map(|f| (*f).to_owned()).collect(),
        parameter: Some(String::new()),
        proto_file: files,
        // protoc always says which it is; a request without it must choose its layout.
        compiler_version: Some(prost_types::compiler::Version {
            major: Some(6),
            minor: Some(31),
            patch: Some(1),
            suffix: Some(String::new()),
        }),
    }
}

pub fn file(name: &str, package: &str, dependencies: &[&str]) -> FileDescriptorProto {
    FileDescriptorProto {
        name: Some(name.to_owned()),
        package: (!package.is_empty()).then(|| package.to_owned()),
        dependency: dependencies.iter().map(|d| (*d).to_owned()).collect(),
        syntax: Some("proto3".to_owned()),
        ..Default::default()
    }
}

pub fn message(name: &str, fields: Vec<FieldDescriptorProto>) -> DescriptorProto {
    DescriptorProto {
        name: Some(name.to_owned()),
        field: fields,
        ..Default::default()
    }
}

/// An `int32` field.
pub fn scalar(name: &str, number: i32) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.to_owned()),
        number: Some(number),
        label: Some(Label::Optional as i32),
        r#type: Some(Type::Int32 as i32),
        json_name: Some(name.to_owned()),
        ..Default::default()
    }
}

/// A field of a message or enum type.
pub fn typed(name: &str, number: i32, r#type: Type, type_name: &str) -> FieldDescriptorProto {
    FieldDescriptorProto {
        r#type: Some(r#type as i32),
        type_name: Some(type_name.to_owned()),
        ..scalar(name, number)
    }
}

/// A service with unary rpcs given as (name, input type, output type).
pub fn service(name: &str, methods: &[(&str, &str, &str)]) -> ServiceDescriptorProto {
    ServiceDescriptorProto {
        name: Some(name.to_owned()),
        method: methods
            .iter()
            .map(|(method, input, output)| MethodDescriptorProto {
                name: Some((*method).to_owned()),
                input_type: Some((*input).to_owned()),
                output_type: Some((*output).to_owned()),
                ..Default::default()
            })
            .collect(),
        options: None,
    }
}

/// An enum whose values are numbered from 0.
pub fn enumeration(name: &str, values: &[&str]) -> EnumDescriptorProto {
    EnumDescriptorProto {
        name: Some(name.to_owned()),
        value: values
            .iter()
            .zip(0..)
            .map(|(value, number)| EnumValueDescriptorProto {
                name: Some((*value).to_owned()),
                number: Some(number),
                options: None,
            })
            .collect(),
        ..Default::default()
    }
}
