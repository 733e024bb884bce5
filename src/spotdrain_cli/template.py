"""Read template.yaml the way CloudFormation would, as far as the simulator needs it.

The simulator runs the *same* definition file as the deployed stack, with the same
``DefinitionSubstitutions`` and the same function environment, so both are taken from the
template rather than restated here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spotdrain_cli import TEMPLATE

STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"
FUNCTION_TYPE = "AWS::Serverless::Function"


class TemplateError(Exception):
    """template.yaml does not have what the simulator needs."""


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short-form tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return document


@dataclass
class FunctionSpec:
    logical_id: str
    handler: str
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class StackModel:
    """What the simulator deploys: functions, the state machine and its substitutions."""

    definition_path: Path
    definition: str
    substitutions: dict[str, str]
    functions: dict[str, FunctionSpec]
    topics: list[str]
    parameters: dict[str, str]
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> properties
    state_machine_name: str = "DrainStateMachine"
    # the rule on the state machine's execution status: (statuses, topic logical id, transformer)
    status_rules: list[tuple[list[str], str, dict[str, Any]]] = field(default_factory=list)
    interruption_pattern: dict[str, Any] = field(default_factory=dict)  # the rule that starts it


NO_VALUE = object()  # !Ref AWS::NoValue: the property is left out


class _Resolver:
    def __init__(
        self,
        parameters: dict[str, str],
        arns: dict[str, str],
        conditions: dict[str, Any],
        pseudo: dict[str, str],
    ) -> None:
        self.parameters = parameters
        self.arns = arns
        self.conditions = conditions
        self.pseudo = pseudo

    def condition(self, name: str) -> bool:
        return bool(self.value(self.conditions[name]))

    def value(self, node: Any) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per intrinsic
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            resolved = {key: self.value(item) for key, item in node.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        ((key, arg),) = node.items()
        if key == "Ref":
            if arg == "AWS::NoValue":
                return NO_VALUE
            if arg in self.pseudo:
                return self.pseudo[arg]
            if arg in self.parameters:
                return self.parameters[arg]
            if arg in self.arns:
                return self.arns[arg]
            raise TemplateError(f"!Ref {arg}: unknown parameter or resource")
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            if attribute in {"Arn", "TopicArn"} and logical_id in self.arns:
                return self.arns[logical_id]
            if attribute == "TopicName" and logical_id in self.arns:
                return self.arns[logical_id].rsplit(":", 1)[-1]
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: not simulated")
        if key == "Fn::Join":
            separator, items = arg
            values = self.value(items)
            if isinstance(values, str):
                values = [values]
            return separator.join(str(v) for v in values if v != "")
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self.value({"Ref": m.group(1)})), text)
        if key == "Fn::If":
            name, yes, no = arg
            return self.value(yes if self.condition(name) else no)
        if key == "Fn::Equals":
            left, right = self.value(arg)
            return left == right
        if key == "Fn::Not":
            return not self.value(arg[0])
        return {key: self.value(arg)}


def parameter_values(template: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Parameter defaults, overridden the way ``sam deploy --parameter-overrides`` would."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"unknown template parameters: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = overrides.get(name, spec.get("Default", ""))
        if isinstance(raw, bool):  # YAML true/false: CloudFormation parameters are strings
            raw = "true" if raw else "false"
        if spec.get("Type") == "CommaDelimitedList":
            if isinstance(raw, list):
                items = [str(item) for item in raw]
            else:
                items = [item.strip() for item in str(raw).split(",")] if str(raw) else [""]
            values[name] = [_checked(name, spec, item) for item in items]  # each item, as CloudFormation
        else:
            values[name] = _checked(name, spec, str(raw))
    return values


def _checked(name: str, spec: dict[str, Any], value: str) -> str:
    """Refuse a value CloudFormation would refuse: AllowedValues, AllowedPattern, Min/MaxValue."""
    allowed = spec.get("AllowedValues")
    if allowed and value not in [str(a) for a in allowed]:
        raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}={value!r} is not a number") from None
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise TemplateError(f"parameter {name}={value} is outside {low}..{high}")
    return value


def stack_model(
    *,
    region: str,
    account: str,
    overrides: dict[str, Any] | None = None,
    template_path: Path = TEMPLATE,
    stack_name: str = "spotdrain",
) -> StackModel:
    template = load_template(template_path)
    resources: dict[str, Any] = template["Resources"]
    parameters = parameter_values(template, overrides or {})
    arns: dict[str, str] = {}
    topics: list[str] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind == FUNCTION_TYPE:
            arns[logical_id] = f"arn:aws:lambda:{region}:{account}:function:{logical_id}"
        elif kind == "AWS::SNS::Topic":
            arns[logical_id] = f"arn:aws:sns:{region}:{account}:{logical_id}"
            topics.append(logical_id)
        elif kind == "AWS::DynamoDB::Table":
            arns[logical_id] = logical_id  # !Ref of a table is its name
        elif kind == STATE_MACHINE_TYPE:
            name = resource.get("Properties", {}).get("Name", {"Fn::Sub": logical_id})
            machine_name = str(_Resolver({}, {}, {}, {"AWS::StackName": stack_name}).value(name))
            arns[logical_id] = f"arn:aws:states:{region}:{account}:stateMachine:{machine_name}"
    resolver = _Resolver(
        parameters,
        arns,
        template.get("Conditions", {}),
        {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
        },
    )

    machines = [(lid, r) for lid, r in resources.items() if r.get("Type") == STATE_MACHINE_TYPE]
    if len(machines) != 1:
        raise TemplateError(f"expected one {STATE_MACHINE_TYPE}, found {len(machines)}")
    properties = machines[0][1]["Properties"]
    definition_path = (template_path.parent / properties["DefinitionUri"]).resolve()
    substitutions = {
        key: str(resolver.value(value))
        for key, value in properties.get("DefinitionSubstitutions", {}).items()
    }

    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != FUNCTION_TYPE:
            continue
        props = resource.get("Properties", {})
        variables = dict(global_env.get("Variables", {}))
        variables.update(props.get("Environment", {}).get("Variables", {}))
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            handler=props["Handler"],
            environment={k: str(resolver.value(v)) for k, v in variables.items()},
        )
    status_rules = []
    for resource in resources.values():
        pattern = resource.get("Properties", {}).get("EventPattern", {})
        if resource.get("Type") != "AWS::Events::Rule" or pattern.get("source") != ["aws.states"]:
            continue
        for target in resource["Properties"].get("Targets", []):
            topic = target["Arn"].get("Ref") if isinstance(target.get("Arn"), dict) else None
            if topic in topics:
                status_rules.append(
                    (list(pattern["detail"]["status"]), topic, target.get("InputTransformer", {}))
                )
    flat = {k: ",".join(v) if isinstance(v, list) else v for k, v in parameters.items()}
    return StackModel(
        definition_path=definition_path,
        definition=definition_path.read_text(encoding="utf-8"),
        substitutions=substitutions,
        functions=functions,
        topics=topics,
        parameters=flat,
        tables={
            logical_id: resolver.value(resource.get("Properties", {}))
            for logical_id, resource in resources.items()
            if resource.get("Type") == "AWS::DynamoDB::Table"
        },
        state_machine_name=arns[machines[0][0]].rsplit(":", 1)[-1],
        status_rules=status_rules,
        interruption_pattern=next(
            (
                resolver.value(event["Properties"]["Pattern"])
                for event in properties.get("Events", {}).values()
                if event.get("Type") == "EventBridgeRule"
            ),
            {},
        ),
    )


def load_definition_states(template_path: Path = TEMPLATE) -> list[str]:
    """The state names of the shipped definition (statemachine/drain.asl.json)."""
    template = load_template(template_path)
    for resource in template["Resources"].values():
        if resource.get("Type") == STATE_MACHINE_TYPE:
            path = template_path.parent / resource["Properties"]["DefinitionUri"]
            return list(json.loads(path.read_text(encoding="utf-8"))["States"])
    raise TemplateError(f"no {STATE_MACHINE_TYPE} in {template_path}")


def interruption_rule_pattern(
    overrides: dict[str, Any] | None = None, *, region: str = "us-east-1", account: str = "111122223333"
) -> dict[str, Any]:
    """The event pattern of the rule that starts the workflow (the state machine's EventBridgeRule
    event in template.yaml), resolved for the given parameters as CloudFormation would."""
    template = load_template()
    parameters = parameter_values(template, overrides or {})
    resolver = _Resolver(
        parameters,
        {},
        template.get("Conditions", {}),
        {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::StackName": "spotdrain",
        },
    )
    for resource in template["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "EventBridgeRule":
                pattern: dict[str, Any] = resolver.value(event["Properties"]["Pattern"])
                return pattern
    raise TemplateError("no EventBridgeRule event in template.yaml")


def transform_input(transformer: dict[str, Any], event: dict[str, Any]) -> str:
    """EventBridge's InputTransformer: each InputPathsMap path (``$.a.b``) read from the event;
    in InputTemplate, ``<name>`` inside a JSON string is the raw text, elsewhere the JSON value."""
    values: dict[str, Any] = {}
    for name, path in transformer.get("InputPathsMap", {}).items():
        value: Any = event
        for key in str(path).removeprefix("$.").split("."):
            value = value.get(key) if isinstance(value, dict) else None
        values[name] = value
    template = str(transformer.get("InputTemplate", ""))
    out, quoted, i = [], False, 0
    while i < len(template):
        char = template[i]
        if char == '"' and (i == 0 or template[i - 1] != "\\"):
            quoted = not quoted
        match = re.match(r"<([A-Za-z0-9_.-]+)>", template[i:])
        if match and match.group(1) in values:
            value = values[match.group(1)]
            out.append(str(value if value is not None else "") if quoted else json.dumps(value))
            i += match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def substitute(definition: str, substitutions: dict[str, str]) -> str:
    """Apply DefinitionSubstitutions as Step Functions does; an undefined key is an error."""
    missing = sorted(set(PLACEHOLDER.findall(definition)) - set(substitutions))
    if missing:
        raise TemplateError(f"definition uses undefined substitutions: {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], definition)
