"""The base of every flowsim pydantic model: one exception root for validation too.

A flowsim model refuses bad values with :class:`~flowsim.errors.ModelError` (a
``FlowsimError`` and a ``ValueError``, carrying pydantic's structured ``errors()``), never
with pydantic's own ``ValidationError``. :class:`FlowsimModel` wraps the four ways in:
the constructor, ``model_validate``, ``model_validate_json``, ``model_validate_strings``, and
attribute assignment (a frozen model refuses it).

Nested models are validated by pydantic-core directly, not through these methods (the
constructor is marked as pydantic's own, so pydantic does not call it for nested values):
the whole tree is validated once and its problems are reported together, under the outer
model's name, with full field paths (``stages.2.owner``).

``model_copy(update=...)`` does not validate (pydantic's documented behaviour); flowsim's
code uses it only with values it has already validated.

>>> import flowsim
>>> try:
...     flowsim.Stage.model_validate({"id": "3 bad"})
... except flowsim.FlowsimError as err:
...     print(type(err).__name__, err.errors()[0]["loc"])
ModelError ('id',)
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ValidationError

from flowsim.errors import ModelError

__all__ = ["FlowsimModel"]


class FlowsimModel(BaseModel):
    """A pydantic model whose validation errors are :class:`~flowsim.errors.ModelError`.

    Parameters
    ----------
    **data : Any
        The model's fields, as for any pydantic model.

    Raises
    ------
    ModelError
        A value the model does not take; the message names each field path.
    """

    def __init__(self, /, **data: Any) -> None:
        __tracebackhide__ = True
        try:
            self.__pydantic_validator__.validate_python(data, self_instance=self)
        except ValidationError as err:
            raise ModelError.of(err) from None

    # Pydantic calls a model's own __init__ for nested values when it is overridden; this one
    # only wraps pydantic's, so nested values are validated directly (one error for the tree).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Validate ``obj`` (a dict or a model) as this model.

        Parameters
        ----------
        obj : Any
            The data.
        **options : Any
            Pydantic's options (``strict``, ``from_attributes``, ``context``, …).

        Returns
        -------
        Self
            The model.

        Raises
        ------
        ModelError
            A value the model does not take.
        """
        try:
            return super().model_validate(obj, **options)
        except ValidationError as err:
            raise ModelError.of(err) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """Validate JSON text as this model (see :meth:`model_validate`).

        Parameters
        ----------
        json_data : str or bytes
            The JSON text.
        **options : Any
            Pydantic's options.

        Returns
        -------
        Self
            The model.

        Raises
        ------
        ModelError
            Text that is not JSON, or a value the model does not take.
        """
        try:
            return super().model_validate_json(json_data, **options)
        except ValidationError as err:
            raise ModelError.of(err) from None

    @classmethod
    def model_validate_strings(cls, obj: Any, **options: Any) -> Self:
        """Validate string data as this model (see :meth:`model_validate`).

        Parameters
        ----------
        obj : Any
            The data, with strings for values.
        **options : Any
            Pydantic's options.

        Returns
        -------
        Self
            The model.

        Raises
        ------
        ModelError
            A value the model does not take.
        """
        try:
            return super().model_validate_strings(obj, **options)
        except ValidationError as err:
            raise ModelError.of(err) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as err:
            raise ModelError.of(err) from None
