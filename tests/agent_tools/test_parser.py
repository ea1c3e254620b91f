"""The patch parser: 0.169's messages, lenient forms, and a render → parse round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from rootstep.agent_tools.apply_patch import (
    AddFile,
    DeleteFile,
    Patch,
    PatchParseError,
    UpdateChunk,
    UpdateFile,
    parse_patch,
    render_patch,
)

PARSE_CASES = ["no_begin", "no_end", "bad_header", "empty_update", "bad_update_line"]


@pytest.mark.parametrize("case", PARSE_CASES)
def test_parse_errors_use_the_reference_words(captured, case):
    sample = captured["patch_outputs"][case]
    with pytest.raises(PatchParseError) as err:
        parse_patch(sample["patch"])
    assert f"apply_patch verification failed: {err.value}" == sample["output"]


def test_every_hunk_kind_parses():
    patch = parse_patch(
        "*** Begin Patch\n*** Add File: a.txt\n+one\n+\n*** Delete File: b.txt\n"
        "*** Update File: c.txt\n*** Move to: d/c.txt\n@@ def f():\n-    pass\n+    return 1\n"
        "@@\n context\n-x\n+y\n*** End of File\n*** End Patch\n"
    )
    assert patch.hunks == (
        AddFile("a.txt", "one\n\n"),
        DeleteFile("b.txt"),
        UpdateFile("c.txt", "d/c.txt", (
            UpdateChunk("def f():", ("    pass",), ("    return 1",)),
            UpdateChunk(None, ("context", "x"), ("context", "y"), end_of_file=True),
        )),
    )


@pytest.mark.parametrize("opener", ["<<EOF", "<<'EOF'", '<<"EOF"'])
def test_heredoc_wrapped_patch_is_accepted(opener):
    patch = parse_patch(f"{opener}\n*** Begin Patch\n*** Add File: x\n+1\n*** End Patch\nEOF\n")
    assert patch.hunks == (AddFile("x", "1\n"),)
    assert patch.text == "*** Begin Patch\n*** Add File: x\n+1\n*** End Patch"


def test_mismatched_heredoc_quotes_are_refused():
    with pytest.raises(PatchParseError, match="first line"):
        parse_patch("<<\"EOF'\n*** Begin Patch\n*** Add File: x\n+1\n*** End Patch\nEOF\n")


def test_lenient_markers_and_crlf():
    text = "  *** Begin Patch  \r\n*** Add File: crlf.txt\r\n+x\r\n *** End Patch \r\n"
    assert parse_patch(text).hunks == (AddFile("crlf.txt", "x\n"),)


def test_first_chunk_header_may_be_omitted_and_empty_line_is_context():
    patch = parse_patch("*** Begin Patch\n*** Update File: f\n import a\n\n+b\n*** End Patch")
    assert patch.hunks[0].chunks == (UpdateChunk(None, ("import a", ""), ("import a", "", "b")),)


def test_environment_id_preamble():
    patch = parse_patch("*** Begin Patch\n*** Environment ID: remote\n*** Add File: h\n+x\n*** End Patch")
    assert patch.environment_id == "remote"
    with pytest.raises(PatchParseError, match="environment_id cannot be empty"):
        parse_patch("*** Begin Patch\n*** Environment ID:   \n*** Add File: h\n+x\n*** End Patch")


def test_an_empty_patch_parses_to_no_hunks():
    assert parse_patch("*** Begin Patch\n*** End Patch").hunks == ()


# --- property: render → parse ---------------------------------------------------------------

_name = st.text(alphabet="abcdefghij_-.", min_size=1, max_size=8).filter(
    lambda s: s.strip(". ") == s and s not in (".", ".."))
_path = st.lists(_name, min_size=1, max_size=3).map("/".join)
# Lines the parser keeps verbatim: no newline; no leading/trailing whitespace where markers are
# trimmed; not themselves a marker.
_line = st.text(alphabet="abcxyz (){};=#*@+-", max_size=12).filter(
    lambda s: not s.startswith(("*** ", "@@")) and s == s.rstrip())


@st.composite
def _chunk(draw):
    old = draw(st.lists(_line, max_size=4))
    new = draw(st.lists(_line, max_size=4))
    if not old and not new:
        new = ["added"]
    context = draw(st.one_of(st.none(), _line.filter(lambda s: s.strip() == s and s)))
    return UpdateChunk(context, tuple(old), tuple(new), draw(st.booleans()))


_hunk = st.one_of(
    st.builds(lambda p, lines: AddFile(p, "".join(line + "\n" for line in lines)),
              _path, st.lists(_line, min_size=1, max_size=5)),
    st.builds(DeleteFile, _path),
    st.builds(lambda p, m, chunks: UpdateFile(p, m, tuple(chunks)),
              _path, st.one_of(st.none(), _path), st.lists(_chunk(), min_size=1, max_size=3)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_hunk, min_size=0, max_size=5), st.one_of(st.none(), _name))
def test_render_then_parse_is_identity(hunks, environment_id):
    patch = Patch(tuple(hunks), environment_id)
    assert parse_patch(render_patch(patch)) == patch


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="*+- @abEOFBeginPatchAdUpdDelFilMvto:\n\r", max_size=80))
def test_arbitrary_text_parses_or_fails_cleanly(text):
    try:
        parse_patch(text)
    except PatchParseError as exc:
        assert str(exc).startswith(("invalid patch: ", "invalid hunk at line "))
