"""No import cycles between apps (GUIDE.md; docs/architecture.md, "Layering").

Every non-test, non-migration module of every project app is parsed with `ast`, imports inside
functions included (a lazy import is still a dependency). An app's interface modules (admin,
views, urls, serializers, filters, templatetags, management commands, its AppConfig, dashboard
pages and cards) are a node of their own, `<app>:ui`, above the app's domain modules `<app>`:
the admin of tasks may show jobs while jobs uses task models. The test fails on any cycle
between nodes, on any import up the written layers, and on `rpa_workbench` importing a domain
app: there is no allow-list.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = sorted(name for name in settings.INSTALLED_APPS if "." not in name and (ROOT / name / "apps.py").exists())
# Modules (first part under the app) that face users or wire the app in: the `<app>:ui` node.
INTERFACE = {
    "admin", "views", "urls", "page_urls", "serializers", "filters", "templatetags", "management",
    "apps", "pages", "dashboard", "export",
}
# Test code and schema history are not part of the layering.
SKIPPED = {"tests", "migrations", "testing"}

# The layers of docs/architecture.md, bottom up. A domain node imports only nodes of lower
# layers; every interface node (`<app>:ui`) is in the top layer and may import any node below
# it, and other interfaces as long as no cycle forms.
LAYERS: dict[str, int] = {
    "rpa_workbench": 0,
    "accounts": 1,
    "pools": 2,
    "tasks": 2,
    "executionlogs": 3,
    "jobs": 4,
    "alerts": 5,
    "resources": 5,
    "yingdao": 6,
    "workqueues": 6,
    "dashboard": 7,
}
INTERFACE_LAYER = 8


def layer(name: str) -> int:
    return INTERFACE_LAYER if name.endswith(":ui") or name not in LAYERS else LAYERS[name]


def node(module: str) -> str | None:
    """The layering node of a dotted module name (None outside the project's apps)."""
    app, _, rest = module.partition(".")
    if app not in APPS:
        return None
    first = rest.split(".")[0]
    return f"{app}:ui" if first in INTERFACE or first.startswith("admin_") else app


def app_of(name: str) -> str:
    return name.split(":")[0]


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every absolute import in `tree`: `import a.b` → a.b, `from a import b` → a.b."""
    found = []
    for statement in ast.walk(tree):
        if isinstance(statement, ast.Import):
            found += [(statement.lineno, alias.name) for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            found += [(statement.lineno, f"{statement.module}.{alias.name}") for alias in statement.names]
    return found


def app_edges() -> dict[tuple[str, str], set[str]]:
    """(importing node, imported node) → where (path:line), between different apps."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if SKIPPED & set(relative.parts):
                continue
            module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            source = node(module)
            for line, imported in imported_modules(ast.parse(path.read_text(), str(path))):
                target = node(imported)
                if target is not None and app_of(target) != app:
                    edges[(source, target)].add(f"{relative}:{line}")
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(vertex: str) -> None:
        index[vertex] = low[vertex] = len(index)
        stack.append(vertex)
        for other in sorted(graph.get(vertex, ())):
            if other not in index:
                visit(other)
                low[vertex] = min(low[vertex], low[other])
            elif other in stack:
                low[vertex] = min(low[vertex], index[other])
        if low[vertex] == index[vertex]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == vertex:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for vertex in sorted(graph):
        if vertex not in index:
            visit(vertex)
    return found


def test_the_imports_between_apps_have_no_cycle():
    edges = app_edges()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    report = [
        f"{source} -> {target}: {', '.join(sorted(edges[(source, target)]))}"
        for component in cycles(graph)
        for source, target in sorted(edges)
        if source in component and target in component
    ]
    assert report == [], "import cycle between apps (docs/architecture.md, Layering):\n" + "\n".join(report)


def test_every_import_goes_down_the_written_layers():
    """docs/architecture.md's table, kept: a domain module never imports a layer above (or
    beside) its own; an app without a domain row (webhooks) is an interface."""
    assert set(LAYERS) | {"webhooks"} == set(APPS)
    upward = [
        f"{source} ({layer(source)}) -> {target} ({layer(target)}): {', '.join(sorted(where))}"
        for (source, target), where in sorted(app_edges().items())
        if layer(target) >= layer(source)
        and not (layer(source) == layer(target) == INTERFACE_LAYER)
    ]
    assert upward == []


def test_the_plumbing_imports_no_domain_app():
    """rpa_workbench/ names apps by dotted strings in settings (urls, embedded loops, the
    account model); apps wire themselves in from their AppConfig.ready."""
    offending = [
        f"{target}: {', '.join(sorted(where))}"
        for (source, target), where in sorted(app_edges().items())
        if app_of(source) == "rpa_workbench"
    ]
    assert offending == []


def test_every_app_the_settings_wire_in_by_string_resolves():
    """The strings that replace imports in the plumbing name real functions and models."""
    from django.apps import apps
    from django.utils.module_loading import import_string

    for _setting, path in settings.RPA_EMBEDDED_LOOPS.values():
        assert callable(import_string(path)), path
    for path in settings.RPA_EMBEDDED_WAKERS:
        assert callable(import_string(path)), path
    apps.get_model(settings.RPA_ACCOUNT_MODEL)
    model, statuses = settings.RPA_PRESENCE_BUSY_JOBS
    assert apps.get_model(model) and import_string(statuses)


def test_the_layering_sees_imports_inside_functions_and_interface_modules(tmp_path):
    """The parser's own check: a lazy import counts, and the node of a module is its layer."""
    tree = ast.parse("def f():\n    from jobs import services\n    import tasks.models\n")
    assert [module for _, module in imported_modules(tree)] == ["jobs.services", "tasks.models"]
    assert node("jobs.services") == "jobs"
    assert node("jobs.admin") == "jobs:ui"
    assert node("tasks.management.commands.run_scheduler") == "tasks:ui"
    assert node("django.db") is None
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
