//! What reflection answers from: the files of every service served, decoded once and
//! indexed by file name, by symbol and by extension.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use prost::Message as _;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
};

/// The schema of a server's services.
#[derive(Default)]
pub(crate) struct Schema {
    /// The full names of the services served, sorted.
    services: Vec<&'static str>,
    files: HashMap<String, File>,
    /// Every named element (package-qualified, no leading dot) → the file declaring it.
    symbols: HashMap<String, String>,
    /// (extended message, field number) → the file declaring the extension.
    extensions: HashMap<(String, i32), String>,
    /// Extended message → the numbers of its known extensions, ascending.
    extension_numbers: BTreeMap<String, Vec<i32>>,
}

struct File {
    /// As the service embedded it: sent on unchanged.
    encoded: &'static [u8],
    dependencies: Vec<String>,
}

impl Schema {
    /// Indexes the files of `services` (each service's name and serialized files), then
    /// the well-known types, which generated servers leave out when they are this copy. A
    /// file that several services embed is read once; one that does not decode is left
    /// out, with a warning.
    pub(crate) fn new(services: &[(&'static str, &'static [&'static [u8]])]) -> Self {
        let mut schema = Schema::default();
        for &(name, files) in services {
            schema.services.push(name);
            for &encoded in files {
                schema.add_file(encoded);
            }
        }
        for &encoded in crate::standard::WELL_KNOWN_FILES {
            schema.add_file(encoded);
        }
        schema.services.sort_unstable();
        schema.services.dedup();
        schema
    }

    fn add_file(&mut self, encoded: &'static [u8]) {
        let file = match FileDescriptorProto::decode(encoded) {
            Ok(file) => file,
            Err(err) => {
                tracing::warn!(
                    "reflection leaves out a file descriptor that does not decode: {err}"
                );
                return;
            }
        };
        if self.files.contains_key(file.name()) {
            return;
        }
        let name = file.name().to_owned();
        Symbols {
            schema: self,
            file: &name,
        }
        .file(&file);
        self.files.insert(
            name,
            File {
                encoded,
                dependencies: file.dependency,
            },
        );
    }

    /// The full names of the services served, sorted.
    pub(crate) fn services(&self) -> &[&'static str] {
        &self.services
    }

    /// The file declaring `symbol` (`pkg.Message`, `pkg.Service.Method`, …).
    pub(crate) fn file_containing_symbol(&self, symbol: &str) -> Option<&str> {
        let symbol = symbol.strip_prefix('.').unwrap_or(symbol);
        self.symbols.get(symbol).map(String::as_str)
    }

    /// The file declaring extension `number` of `message`.
    pub(crate) fn file_containing_extension(&self, message: &str, number: i32) -> Option<&str> {
        let message = message.strip_prefix('.').unwrap_or(message);
        self.extensions
            .get(&(message.to_owned(), number))
            .map(String::as_str)
    }

    /// The numbers of every known extension of `message`, or `None` for an unknown message.
    pub(crate) fn extension_numbers(&self, message: &str) -> Option<Vec<i32>> {
        let message = message.strip_prefix('.').unwrap_or(message);
        if let Some(numbers) = self.extension_numbers.get(message) {
            return Some(numbers.clone());
        }
        self.symbols.contains_key(message).then(Vec::new)
    }

    /// Whether a file named `name` is known.
    pub(crate) fn has_file(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// The file `name`, then each file it imports, directly or not, that `sent` does not
    /// hold yet, breadth first; each is added to `sent`. The file asked for always goes:
    /// the client asked for it.
    pub(crate) fn file_with_imports(
        &self,
        name: &str,
        sent: &mut HashSet<String>,
    ) -> Vec<&'static [u8]> {
        let mut out = Vec::new();
        let mut visited = HashSet::new();
        let mut queue = VecDeque::from([name]);
        while let Some(name) = queue.pop_front() {
            if !visited.insert(name) {
                continue;
            }
            // An import whose file no service embedded cannot be sent; the client sees
            // the name in the importer's dependencies and may ask for it by name.
            let Some(file) = self.files.get(name) else {
                continue;
            };
            if out.is_empty() || !sent.contains(name) {
                sent.insert(name.to_owned());
                out.push(file.encoded);
            }
            queue.extend(file.dependencies.iter().map(String::as_str));
        }
        out
    }
}

/// Records the symbols and extensions of one file.
struct Symbols<'a> {
    schema: &'a mut Schema,
    file: &'a str,
}

impl Symbols<'_> {
    fn file(&mut self, file: &FileDescriptorProto) {
        let scope = file.package();
        for message in &file.message_type {
            self.message(scope, message);
        }
        for enumeration in &file.enum_type {
            self.enumeration(scope, enumeration);
        }
        for extension in &file.extension {
            self.extension(scope, extension);
        }
        for service in &file.service {
            let name = qualified(scope, service.name());
            for method in &service.method {
                self.symbol(qualified(&name, method.name()));
            }
            self.symbol(name);
        }
    }

    fn message(&mut self, scope: &str, message: &DescriptorProto) {
        let name = qualified(scope, message.name());
        for field in &message.field {
            self.symbol(qualified(&name, field.name()));
        }
        for oneof in &message.oneof_decl {
            self.symbol(qualified(&name, oneof.name()));
        }
        for nested in &message.nested_type {
            self.message(&name, nested);
        }
        for enumeration in &message.enum_type {
            self.enumeration(&name, enumeration);
        }
        for extension in &message.extension {
            self.extension(&name, extension);
        }
        self.symbol(name);
    }

    /// An enum, and its values: in protobuf's scoping those are siblings of the enum, not
    /// its children.
    fn enumeration(&mut self, scope: &str, enumeration: &EnumDescriptorProto) {
        for value in &enumeration.value {
            self.symbol(qualified(scope, value.name()));
        }
        self.symbol(qualified(scope, enumeration.name()));
    }

    fn extension(&mut self, scope: &str, extension: &FieldDescriptorProto) {
        self.symbol(qualified(scope, extension.name()));
        let extended = extension.extendee();
        let extended = extended.strip_prefix('.').unwrap_or(extended).to_owned();
        let number = extension.number();
        self.schema
            .extensions
            .entry((extended.clone(), number))
            .or_insert_with(|| self.file.to_owned());
        let numbers = self.schema.extension_numbers.entry(extended).or_default();
        if let Err(at) = numbers.binary_search(&number) {
            numbers.insert(at, number);
        }
    }

    /// The first file to declare a name keeps it.
    fn symbol(&mut self, name: String) {
        self.schema
            .symbols
            .entry(name)
            .or_insert_with(|| self.file.to_owned());
    }
}

/// `scope.name`, or `name` at the root.
fn qualified(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}
