"""SFace in onnxruntime and in OpenCV's dnn module, behind the cache path's runner interface
(pfe_estimator/inference/backbone_runtimes.py): the runtimes bench/sface_pass.py and bench/cache_features_command.py
compare the project's TensorFlow graph with. They lost on this CPU, so the library runs TensorFlow only.

  OnnxRuntimeRunner  an ONNX backbone in onnxruntime, its quantised weights dequantised once when loaded
  OpencvRunner       an ONNX backbone in OpenCV's dnn module, one face at a time
"""
import numpy as np

from pfe_estimator import errors
from pfe_estimator.inference.backbone_runtimes import TensorflowRunner
from pfe_estimator.model import backbones
from pfe_estimator.model import onnx_import


def _onnx_parts(path, head_input):
    """(the model's input name, its image size, the feature node, the embedding node) of an ONNX backbone."""
    graph = onnx_import.OnnxGraph(path)
    feature = graph.default_feature_node()
    if head_input == "pooled":
        feature = graph.unflattened(feature)
    return graph, feature, graph.output_name


def _model_input(batch):
    """The pipeline's standardised NHWC RGB faces as the ONNX model's own input: NCHW pixels 0..255."""
    return np.ascontiguousarray(np.transpose(batch * 128.0 + 127.5, [0, 3, 1, 2]), np.float32)


def _outputs(feature_map, embedding, head_input):
    """(features [N, F], mu [N, D], norms [N]) from the feature node's value and the embedding."""
    if head_input == "pooled":
        feature_map = feature_map.mean(axis=(2, 3))
    embedding = embedding.reshape(len(embedding), -1)
    norms = np.linalg.norm(embedding, axis=1)
    return (feature_map.reshape(len(feature_map), -1).astype(np.float32),
            (embedding / np.maximum(norms, 1e-12)[:, None]).astype(np.float32), norms.astype(np.float32))


def _check_options(backbone):
    options = dict(backbone.options or {})
    unsupported = sorted(set(options) - {"head_input", "precision"})
    if unsupported or options.get("precision", "fp32") != "fp32":
        raise errors.UserError("backbone options %s run in TensorFlow only (this runtime computes fp32 with the "
                               "model's own nodes)" % ", ".join(unsupported or ["precision=%s" % options["precision"]]))
    return options.get("head_input", "flattened")


class OnnxRuntimeRunner(TensorflowRunner):
    """An ONNX backbone in onnxruntime: DequantizeLinear and constant Reshape folded into fp32 weights once, the
    batch dimension freed, the feature node an output; two threads, every graph optimisation."""
    xla = False  # run() batches as asked

    def __init__(self, backbone, image_size=None):  # pylint: disable=super-init-not-called
        import onnxruntime  # pylint: disable=import-outside-toplevel  # the caching step's own dependency
        self.head_input = _check_options(backbone)
        graph, feature, embedding = _onnx_parts(backbone.name[len(backbones.ONNX_PREFIX):], self.head_input)
        model = dequantised(graph, [feature, embedding])
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 2
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                    providers=["CPUExecutionProvider"])
        self.input_name, self.fetch = graph.input_name, [feature, embedding]
        probe = self.forward(np.zeros((1,) + tuple(graph.image_size) + (3,), np.float32))
        self.feature_size, self.embedding_size = probe[0].shape[1], probe[1].shape[1]

    def forward(self, batch):
        feature_map, embedding = self.session.run(self.fetch, {self.input_name: _model_input(batch)})
        return _outputs(feature_map, embedding, self.head_input)

    def close(self):
        self.session = None


class OpencvRunner(OnnxRuntimeRunner):
    """An ONNX backbone in OpenCV's dnn module (its own importer), one face at a time: OpenCV 4.11 gives NaN
    embeddings for SFace in batches of more than one face (as its own examples, it runs one)."""

    def __init__(self, backbone, image_size=None):  # pylint: disable=super-init-not-called
        import cv2  # pylint: disable=import-outside-toplevel
        self.head_input = _check_options(backbone)
        path = backbone.name[len(backbones.ONNX_PREFIX):]
        graph, feature, embedding = _onnx_parts(path, self.head_input)
        self.net = cv2.dnn.readNetFromONNX(path)
        layers = set(self.net.getLayerNames())
        self.fetch = [_opencv_layer(graph, name, layers) for name in (feature, embedding)]
        probe = self.forward(np.zeros((1,) + tuple(graph.image_size) + (3,), np.float32))
        self.feature_size, self.embedding_size = probe[0].shape[1], probe[1].shape[1]

    def forward(self, batch):
        outputs = []
        for part in (batch[i:i + 1] for i in range(len(batch))):
            self.net.setInput(_model_input(part))
            outputs.append(self.net.forward(self.fetch))
        return _outputs(np.concatenate([o[0] for o in outputs]), np.concatenate([o[1] for o in outputs]),
                        self.head_input)

    def close(self):
        self.net = None


def _opencv_layer(graph, value, layers):
    """The name OpenCV's importer gives the layer that computes an ONNX value ('onnx_node!' and the node's name,
    or the graph output's own name); through Dropout and Identity, which it drops, to what they pass on."""
    producers = {output: node for node in graph.nodes for output in node.output}
    while value in producers:
        node = producers[value]
        for name in ("onnx_node!" + (node.name or value), value):
            if name in layers and node.op_type not in ("Dropout", "Identity"):
                return name
        value = node.input[0]
    raise errors.UserError("%s: OpenCV's dnn has no layer computing %s" % (graph.path, value))


def dequantised(graph, outputs):
    """The ONNX model of an onnx_import.OnnxGraph as the importer simplifies it (weights dequantised once, batch
    norms folded into their convolutions), the image its only input (its batch dimension free), `outputs` the
    graph's outputs."""
    import onnx  # pylint: disable=import-outside-toplevel
    from onnx import helper, numpy_helper  # pylint: disable=import-outside-toplevel
    constants, nodes = graph.simplified(outputs)
    used = {name for node in nodes for name in node.input}
    model = onnx.ModelProto()
    model.CopyFrom(graph.model)
    model.graph.ClearField("node")
    model.graph.node.extend(nodes)
    model.graph.ClearField("initializer")
    model.graph.initializer.extend(numpy_helper.from_array(np.asarray(value), name)
                                   for name, value in constants.items() if name in used)
    image = [i for i in graph.model.graph.input if i.name == graph.input_name][0]
    model.graph.ClearField("input")
    model.graph.input.extend([image])
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    model.graph.ClearField("output")
    model.graph.output.extend(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in outputs)
    model.graph.ClearField("value_info")
    return model
