"""Backend-neutral gradients and compiled training steps for hand-written loops.

Chapters write their losses with ``keras.ops`` and never branch on the backend. The two places
where TensorFlow and JAX genuinely differ are taken care of here:

* :func:`value_and_grad` -- the value of a loss and its gradients with respect to some Keras
  variables: ``tf.GradientTape`` on TensorFlow, ``jax.value_and_grad`` on JAX. JAX
  differentiates pure functions only, so on JAX the loss is evaluated inside a
  ``keras.StatelessScope`` that substitutes the traced values for the variables; updates the
  loss makes to *other* variables (a ``SeedGenerator``'s state, batch-norm statistics) are
  collected and applied afterwards, so the function behaves as it would on TensorFlow.
* :func:`jit` -- compile a training step that reads and assigns Keras variables (the step
  usually calls :func:`value_and_grad` and ``optimizer.apply``): ``tf.function`` on
  TensorFlow; on JAX, ``jax.jit`` of a pure function of the variables' values, the new values
  being assigned back after each call.

Example::

    w = keras.Variable(1.0)
    loss, (g,) = value_and_grad(lambda: (w - 3.0) ** 2, [w])   # 4.0, -4.0

Models must be built (called once) before their variables are differentiated or a step using
them is compiled: variables created inside a traced function are not tracked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    Tensor = Any  # a NumPy array or a backend tensor (tf.Tensor, jax.Array)

__all__ = ["enable_float64", "input_gradient", "jit", "state_of", "value_and_grad"]


def _backend() -> str:
    return keras.backend.backend()


class _RecordingScope(keras.StatelessScope):
    """A StatelessScope that remembers which variables were assigned inside it.

    It starts from the enclosing stateless scope's values (if any), so scopes nest: reads see
    the innermost value; :func:`value_and_grad` hands the recorded updates to the outer scope.
    """

    def __init__(self, mapping: list[tuple[keras.Variable, Tensor]]) -> None:
        # Keras exposes keras.StatelessScope but no public way to read the active one.
        from keras.src.backend.common.stateless_scope import get_stateless_scope

        outer = get_stateless_scope()
        super().__init__(state_mapping=mapping)
        self.outer = outer
        if outer is not None:
            for key, value in outer.state_mapping.items():
                self.state_mapping.setdefault(key, value)
        self.assigned = {}

    def add_update(self, update: tuple[keras.Variable, Tensor]) -> None:
        variable, _ = update
        self.assigned[id(variable)] = variable
        super().add_update(update)


def _split_aux(out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise ValueError("with has_aux=True, fn must return a pair (loss, aux)")
    return out[0], out[1]


def value_and_grad(fn: Callable[[], Any], variables: Iterable[keras.Variable],
                   has_aux: bool = False) -> tuple[Any, list[Tensor]]:
    """Evaluate ``fn()`` and its gradients with respect to ``variables``.

    Args:
        fn: a function of no arguments returning a scalar loss (or ``(loss, aux)`` when
            ``has_aux``). It reads the variables directly (``w * x``, ``model(x)``).
        variables: a list of Keras variables (e.g. ``model.trainable_variables``).
        has_aux: ``fn`` returns ``(loss, aux)``; aux is returned as is, without gradients.

    Returns:
        ``(loss, grads)`` or, with ``has_aux``, ``((loss, aux), grads)``; ``grads`` is a list
        of backend tensors in the order of ``variables``.
    """
    variables = list(variables)
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            out = fn()
        loss, aux = _split_aux(out, has_aux)
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros(v.shape, v.dtype) if g is None else g for v, g in zip(variables, grads)]
        return ((loss, aux) if has_aux else loss), grads
    if backend == "jax":
        import jax

        ids = {id(v) for v in variables}

        def pure(values):
            with _RecordingScope(list(zip(variables, values))) as scope:
                out = fn()
            loss, aux = _split_aux(out, has_aux)
            # Other variables fn assigned (seed states, statistics): return their new values.
            others = [v for key, v in scope.assigned.items() if key not in ids]
            return loss, (aux, others, [scope.get_current_value(v) for v in others])

        (loss, (aux, others, new_values)), grads = jax.value_and_grad(pure, has_aux=True)(
            [v.value for v in variables])
        for v, value in zip(others, new_values):
            v.assign(value)  # inside an enclosing stateless scope (jit), this records the update
        return ((loss, aux) if has_aux else loss), list(grads)
    raise NotImplementedError(f"value_and_grad does not support the {backend!r} backend")


def input_gradient(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """The gradient of the scalar ``fn(x)`` with respect to the tensor ``x`` (not a variable), e.g. a
    critic's gradient at its input images for a gradient penalty.

    It may be called inside :func:`value_and_grad`'s ``fn``: the loss can then depend on this
    gradient, and its own gradients with respect to the variables are second derivatives
    (TensorFlow: nested tapes; JAX: ``jax.grad`` inside ``jax.value_and_grad``). ``fn`` must not
    assign variables (call networks with ``training=False``): on JAX an assignment inside the
    inner ``jax.grad`` would leak its tracer.
    """
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return tape.gradient(y, x)
    if backend == "jax":
        import jax

        return jax.grad(fn)(x)
    raise NotImplementedError(f"input_gradient does not support the {backend!r} backend")


def enable_float64() -> None:
    """Allow float64 arrays (JAX keeps float32 unless ``jax_enable_x64`` is set; TF needs nothing).

    Call it before creating float64 variables, e.g. for a gradient check in double precision.
    On JAX, a few Keras ops still return float32 whatever their input, by Keras' type-promotion
    rules (seen with Keras 3.15: ``ops.mean`` and ``ops.tanh``, hence the ``"tanh"`` activation);
    use ``ops.sum(x) / n`` and e.g. the sigmoid in double-precision code, and check the dtype.
    """
    if _backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)


def jit(step: Callable[..., Any], variables: Iterable[keras.Variable]) -> Callable[..., Any]:
    """Compile ``step(*args)``, a function that reads and assigns the Keras ``variables``.

    ``variables`` must list every variable the step reads or assigns (model weights, optimizer
    variables, seed-generator states); see :func:`state_of`. Arguments are tensors or arrays
    of fixed shape; the return value is whatever ``step`` returns (tensors).

    On TensorFlow this is ``tf.function(step)``; on JAX, ``jax.jit`` of a pure function of the
    variables' values whose new values are assigned back after each call; on other backends
    the step runs eagerly.
    """
    variables = list(variables)
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(step, reduce_retracing=True)
    if backend != "jax":
        return step
    import jax

    ids = {id(v) for v in variables}

    def pure(values, *args):
        with _RecordingScope(list(zip(variables, values))) as scope:
            out = step(*args)
        stray = [v.path for key, v in scope.assigned.items() if key not in ids]
        if stray:
            raise ValueError(f"the step assigns variables not passed to jit(): {stray}")
        new = [scope.get_current_value(v) for v in variables]
        return out, new

    compiled = jax.jit(pure)

    def run(*args):
        out, new = compiled([v.value for v in variables], *args)
        for v, value in zip(variables, new):
            v.assign(value)
        return out

    run.__wrapped__ = step
    return run


def state_of(*objects: Any) -> list[keras.Variable]:
    """All variables of Keras layers, models, optimizers and seed generators, without duplicates.

    Use it to list what a compiled step touches: ``jit(step, state_of(model, optimizer, seed))``.
    """
    out, seen = [], set()
    for obj in objects:
        if isinstance(obj, keras.random.SeedGenerator):
            vs = [obj.state]
        elif isinstance(obj, keras.Variable):
            vs = [obj]
        elif isinstance(obj, (list, tuple)):
            vs = state_of(*obj)
        else:
            vs = list(obj.variables)
        for v in vs:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out

