import haystack_integrations
import haystack_integrations.components
import haystack_integrations.components.embedders
import haystack_integrations.components.embedders.static2d as pkg
from haystack import Document, Pipeline
from static2d_testkit.api import check_public_api


def test_all_is_the_documented_api():
    check_public_api(pkg, "haystack_integrations.components.embedders.static2d")


def test_namespace_packages_have_no_init():
    for module in (haystack_integrations, haystack_integrations.components, haystack_integrations.components.embedders):
        assert getattr(module, "__file__", None) is None, f"{module.__name__} must be a namespace package"


def test_components_declare_haystack_sockets():
    pipe = Pipeline()
    pipe.add_component("text", pkg.Static2DTextEmbedder())
    pipe.add_component("docs", pkg.Static2DDocumentEmbedder())
    inputs = pipe.inputs()
    assert set(inputs["text"]) == {"text"}
    assert inputs["text"]["text"]["type"] is str
    assert set(inputs["docs"]) == {"documents"}
    assert inputs["docs"]["documents"]["type"] == list[Document]
    outputs = pipe.outputs()
    assert outputs["text"]["embedding"]["type"] == list[float]
    assert outputs["docs"]["documents"]["type"] == list[Document]
