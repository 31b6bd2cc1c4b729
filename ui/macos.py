"""macOS only: run as a menu-bar ("accessory") app, with no Dock icon and no app menu.

Qt has no API for it; AppKit's NSApplication.setActivationPolicy: does it, reached through the
Objective-C runtime with ctypes (no PyObjC dependency for one call). Written against Apple's
documented API; not exercised on Linux, where nothing calls it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_ACCESSORY = 1  # NSApplicationActivationPolicyAccessory


def become_accessory_app() -> bool:
    """True when the policy was set; logs and returns False if AppKit can't be reached."""
    try:
        objc = ctypes.cdll.LoadLibrary(ctypes.util.find_library("objc"))
        ctypes.cdll.LoadLibrary(ctypes.util.find_library("AppKit"))
        objc.objc_getClass.restype = ctypes.c_void_p
        objc.sel_registerName.restype = ctypes.c_void_p
        send = objc.objc_msgSend
        send.restype = ctypes.c_void_p
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        app = send(objc.objc_getClass(b"NSApplication"), objc.sel_registerName(b"sharedApplication"))
        send.restype = ctypes.c_bool
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]
        return bool(send(app, objc.sel_registerName(b"setActivationPolicy:"), _ACCESSORY))
    except (OSError, AttributeError, TypeError) as exc:
        log.warning("could not hide the Dock icon: %s", exc)
        return False
