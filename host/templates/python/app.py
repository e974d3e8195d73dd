"""The {{name}} adapter's component entry point (componentize-py).

componentize-py generates the `wit_world` bindings from the repository's
`wit/` when `snapact-host adapter build` runs; they are not committed. Only
this module imports them: the mapping lives in `mapping.py`.

Every export returns a typed `adapter-error` for every failure: an
exception escaping an export is a trap, which the host reports as a crash.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, settings, types

import mapping

_AVAILABILITY = {
    mapping.IN_STOCK: types.Availability.IN_STOCK,
    mapping.LOW_STOCK: types.Availability.LOW_STOCK,
    mapping.OUT_OF_STOCK: types.Availability.OUT_OF_STOCK,
    mapping.ON_REQUEST: types.Availability.ON_REQUEST,
}


def _change(change):
    if isinstance(change, mapping.Delete):
        return types.Change_Delete(types.Deletion(change.external_ref, change.source_version))
    price = None
    if change.price_minor is not None:
        price = types.Money(change.price_minor, change.currency)
    return types.Change_Upsert(
        types.Item(
            external_ref=change.external_ref,
            name=change.name,
            price=price,
            quantity=change.quantity,
            availability=_AVAILABILITY[change.availability],
            sku=change.sku,
            barcode=change.barcode,
            category=change.category,
            description=change.description,
            image_url=change.image_url,
            parent_ref=None,
            stock_key=None,
            source_version=change.source_version,
        )
    )


def _error(failure):
    if failure.kind == mapping.Failure.NOT_CONFIGURED:
        return types.AdapterError_NotConfigured(failure.message)
    return types.AdapterError_InvalidInput(types.ErrorDetail(failure.message, failure.path))


def _unsupported(what):
    return Err(
        types.AdapterError_Unsupported(
            f"this adapter does not support {what} yet: implement it in app.py (see README.md)"
        )
    )


class PosAdapter(exports.PosAdapter):
    def map_records(self, payload, content_type):
        try:
            result = mapping.map_payload(payload, mapping.Settings.load(settings.get))
            return types.Mapped(
                [_change(c) for c in result.changes],
                [types.Rejection(r.record_id, r.path, r.message) for r in result.rejected],
            )
        except mapping.Failure as e:
            raise Err(_error(e)) from None
        except MemoryError:
            raise Err(
                types.AdapterError_InvalidInput(
                    types.ErrorDetail("the payload is too large for this adapter's memory limit: split it", "$")
                )
            ) from None
        except Exception as e:  # noqa: BLE001 - the boundary: a bug must not trap the host
            try:
                log.log(log.Level.ERROR, f"map-records failed unexpectedly: {type(e).__name__}: {e}")
            except Exception:  # noqa: BLE001 - logging must never fail the call
                pass
            raise Err(
                types.AdapterError_InvalidInput(
                    types.ErrorDetail(f"the payload could not be mapped ({type(e).__name__}); the adapter logged why", "$")
                )
            ) from None

    def handle_webhook(self, req):
        raise _unsupported("handle-webhook")

    def poll(self, cursor):
        raise _unsupported("poll")

    def push_order(self, order):
        raise _unsupported("push-order")

    def order_status_changed(self, update):
        raise _unsupported("order-status-changed")
