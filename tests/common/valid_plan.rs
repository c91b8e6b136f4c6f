//! A small valid plan for damage tests (a byte changed, the file cut): a VPC, a world-open
//! inline SMB rule, a NetBIOS rule read in one pass with a for_each key, numbers, escapes and
//! a configuration block, so damage reaches every kind of token and every reader path.

pub const VALID_PLAN: &str = r#"{"format_version":"1.2","terraform_version":"1.9.0",
"planned_values":{"root_module":{"resources":[{"address":"aws_vpc.main","mode":"managed","type":"aws_vpc","name":"main","values":{"cidr_block":"10.0.0.0/16","tags":{"a":"b"}}}]}},
"resource_changes":[
{"address":"aws_vpc.main","mode":"managed","type":"aws_vpc","name":"main","change":{"actions":["create"],"before":null,"after":{"cidr_block":"10.0.0.0/16","n":[1,-2.5e3,true,false,null],"s":"a\"b\\c\u00e9"},"after_unknown":{"id":true}}},
{"address":"aws_security_group.web","mode":"managed","type":"aws_security_group","name":"web",
"change":{"actions":["create"],"before":null,
"after":{"ingress":[{"cidr_blocks":["0.0.0.0/0"],"ipv6_cidr_blocks":null,"from_port":445,"protocol":"tcp","to_port":445,"self":false,"security_groups":[],"prefix_list_ids":[]}]},
"after_unknown":{"ingress":[{"cidr_blocks":[false]}]}}},
{"address":"aws_security_group_rule.r[\"a\"]","mode":"managed","type":"aws_security_group_rule","name":"r","index":"a",
"change":{"actions":["create"],"before":null,"after":{"type":"ingress","from_port":137,"to_port":139,"protocol":"udp","cidr_blocks":["0.0.0.0/0"],"self":false,"description":"x\u00e9","n":[-0.5E+2,{}]},
"after_unknown":{"security_group_id":true}}}],
"configuration":{"root_module":{"resources":[{"address":"aws_vpc.main","mode":"managed","type":"aws_vpc","name":"main","expressions":{"cidr_block":{"constant_value":"10.0.0.0/16"}}}]}}}"#;
