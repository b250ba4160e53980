"""Resource names as the client's methods take them, by the project's one naming rule.

Where a method names a resource (a feature view, an endpoint, a model, ...) it takes the short id,
which goes into the client's project ("customer_stats" -> "projects/default/featureViews/customer_stats"),
or the full resource name ("projects/p/featureViews/customer_stats"), which is used unchanged.
Anything else is refused before the call with a SluiceArgumentError whose message shows the
expected form. A model's version may be "live" ("ctr@live"): the live state of the learner of that
name. Refs are not names and go to the server as written: view refs ("view", "view@3",
"projects/p/featureViews/view[/versions/3]") and feature refs ("view:feature", "view@3:feature",
"projects/p/featureViews/view:feature").
"""

from __future__ import annotations

import json
import re

from sluice._errors import SluiceArgumentError

# Ids (projects, entities, views, services, streams, models, endpoints, datasets): lower snake case.
_ID = re.compile(r"[a-z][a-z0-9_]{0,62}")
# Version numbers: positive, without sign or leading zeros.
_VERSION = re.compile(r"[1-9][0-9]{0,8}")
_PREFIX = "projects/"

# What a member of each collection is called, and an id shown in messages.
_NOUNS = {
    "entities": ("an entity", "customer"),
    "featureViews": ("a feature view", "customer_stats"),
    "featureServices": ("a feature service", "churn_inputs"),
    "eventStreams": ("an event stream", "transactions"),
    "models": ("a model", "churn"),
    "endpoints": ("an endpoint", "churn"),
    "trainingDatasets": ("a training dataset", "churn_training"),
    "learners": ("a learner", "ctr"),
}

# The version a model's live state is named by ("ctr@live", "projects/p/models/ctr/versions/live"):
# the live state of the learner of the model's name (docs/learning.md).
LIVE = "live"


def project_id(project: object, field: str = "project") -> str:
    """The id of a project given as "p" or "projects/p"."""
    text = project if isinstance(project, str) else ""
    bare = text.removeprefix(_PREFIX)
    if not isinstance(project, str) or not _ID.fullmatch(bare):
        raise _invalid(field, project, 'a project id such as "default", or "projects/{project}"')
    return bare


def full_name(
    project: str,
    collection: str,
    name: object,
    *,
    field: str,
    version: int | None = None,
    allow_version: bool = False,
    lenient: bool = False,
) -> str:
    """The full name of a resource given by id (placed in `project`) or by full name (used
    unchanged): "projects/{project}/{collection}/{id}", with "/versions/{n}" when `version` is given
    or, with allow_version, when the full name has it (a `version` must then agree). With lenient,
    a short id's characters are left to the server (applies: it reports a bad id beside the
    definition's other problems), but not its shape. A model's own version may be "live"."""
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise SluiceArgumentError.for_argument("version", f"must be a positive integer, not {version!r}")
    optional = "optional" if allow_version or version is not None else "never"
    base, own = _parse(project, collection, name, field=field, at_ref=False, version=optional, lenient=lenient)
    if own is not None and version is not None and own != version:
        raise SluiceArgumentError.for_argument(
            field, f"{name!r} names version {own}, but version {version} was asked for", reason="INVALID_RESOURCE_NAME"
        )
    chosen = own if own is not None else version
    return base if chosen is None else f"{base}/versions/{chosen}"


def versioned_name(project: str, collection: str, ref: object, *, field: str, need_version: bool) -> str:
    """A version of a model or training dataset given as "id@n" or a full version name, or,
    unless need_version, as "id" or a full name without a version (its latest). A model's version
    may be "live" ("ctr@live", ".../models/ctr/versions/live"): its learner's live state."""
    base, version = _parse(project, collection, ref, field=field, at_ref=True, version="required" if need_version else "optional")
    return base if version is None else f"{base}/versions/{version}"


def _parse(
    project: str, collection: str, text: object, *, field: str, at_ref: bool, version: str, lenient: bool = False
) -> tuple[str, int | str | None]:
    """`text` as (the unversioned full name, its version or None); `version` is "never",
    "optional" or "required". A model's version is a number or LIVE."""

    def id_ok(candidate: str) -> bool:
        return bool(candidate) and not re.search(r"[/@:]", candidate) if lenient else bool(_ID.fullmatch(candidate))

    def refused() -> SluiceArgumentError:
        return _invalid(field, text, _expected(collection, at_ref, version))

    def version_of(suffix: str) -> int | str | None:
        if collection == "models" and suffix == LIVE:
            return LIVE
        return int(suffix) if _VERSION.fullmatch(suffix) else None

    if not isinstance(text, str):
        raise refused()
    number: int | str | None = None
    if text.startswith(_PREFIX):
        parts = text.split("/")
        shape_ok = len(parts) == 4 or (version != "never" and len(parts) == 6 and parts[4] == "versions")
        if not shape_ok or parts[2] != collection or not _ID.fullmatch(parts[1]) or not id_ok(parts[3]):
            raise refused()
        if len(parts) == 6:
            number = version_of(parts[5])
            if number is None:
                raise refused()
        base = "/".join(parts[:4])
    else:
        name, at, suffix = text.partition("@") if at_ref else (text, "", "")
        number = version_of(suffix) if at else None
        if not id_ok(name) or (at and number is None):
            raise refused()
        base = f"{_PREFIX}{project}/{collection}/{name}"
    if version == "required" and number is None:
        raise refused()
    return base, number


def _expected(collection: str, at_ref: bool, version: str) -> str:
    noun, example = _NOUNS[collection]
    suffix = {"never": "", "optional": "[/versions/{version}]", "required": "/versions/{version}"}[version]
    full = f'"projects/{{project}}/{collection}/{{id}}{suffix}"'
    if not at_ref:
        return f'{noun} id such as "{example}", or {full}'
    if version == "required":
        return f'{noun} version such as "{example}@3", or {full}'
    return f'{noun} such as "{example}" or "{example}@3", or {full}'


def _invalid(field: str, text: object, expected: str) -> SluiceArgumentError:
    if text == "":
        given = "is empty"
    elif isinstance(text, str):
        given = f"{json.dumps(text if len(text) <= 80 else text[:77] + '...')} is not valid"
    else:
        given = f"must be a string, not {type(text).__name__}"
    return SluiceArgumentError.for_argument(field, f"{given}; expected {expected}", reason="INVALID_RESOURCE_NAME")
