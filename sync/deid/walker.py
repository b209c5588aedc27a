"""Apply the rule table to every element of a dataset, at every depth.

Actions (PS3.15 E.1-1): K keep (sequences are still cleaned inside), X
remove, Z empty, D dummy, U keyed UID, C clean (dates shifted per patient,
descriptors kept only when plainly safe, safe private elements kept).
Elements the table does not list are public attributes the standard deems
safe and are kept, except public tags unknown to the dictionary (removed:
nothing says what they hold) and overlays (the whole 60xx group goes with
its data, as the Basic profile removes Overlay Data and Comments).
"""

from __future__ import annotations

from pydicom.datadict import dictionary_has_tag, dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from sync.deid.profile import Profile, SafePrivate
from sync.deid.pseudonyms import Pseudonymizer, shift_date, shift_datetime
from sync.deid.table import RuleTable
from sync.deid.values import descriptor_is_safe, dummy

Path = tuple[int, ...]
_TEXT_VRS = {"LO", "LT", "SH", "ST", "UC", "UT", "CS", "AE", "PN"}
# Replaced inside a D sequence although the table does not list them (code
# meanings, free text, names, dates); coded values (CS) and numbers stay.
_DUMMIED_VRS = {"LO", "LT", "SH", "ST", "UC", "UT", "AE", "PN", "DA", "DT", "TM", "UR", "UI"}


def _is_overlay(group: int) -> bool:
    return 0x6000 <= group <= 0x60FF and group % 2 == 0


def _is_curve(group: int) -> bool:
    return 0x5000 <= group <= 0x50FF and group % 2 == 0


class Walker:
    def __init__(self, table: RuleTable, profile: Profile, pseudo: Pseudonymizer,
                 sop_class: str, shift_days: int,
                 overrides: dict[int, str] | None = None) -> None:
        self.table = table
        self.overrides = overrides or {}
        self.profile = profile
        self.columns = profile.columns
        self.pseudo = pseudo
        self.sop_class = sop_class
        self.shift_days = shift_days
        self._actions: dict[tuple[int, Path], str | None] = {}
        # Inside a sequence the table says to replace (D) or clean (C), text the
        # table does not list is replaced, or kept only when plainly safe.
        self._mode: str | None = None

    # -- what happens to an element -------------------------------------
    def action_of(self, ds: Dataset, tag: int, path: Path) -> str | None:
        group = tag >> 16
        if group % 2 == 1:
            return "K" if self._safe_private(ds, tag) else "X"
        if _is_overlay(group) or _is_curve(group):
            return "X"
        if tag in self.overrides:
            return self.overrides[tag]
        key = (tag, path)
        if key not in self._actions:
            self._actions[key] = self.table.action(tag, options=self.columns,
                                                   sop_class_uid=self.sop_class, path=path)
        return self._actions[key]

    def _basic_action(self, tag: int, path: Path) -> str:
        action = self.table.action(tag, options=(), sop_class_uid=self.sop_class, path=path)
        # Not listed (text inside a cleaned sequence): a dummy keeps the item valid.
        return action or "D"

    def _safe_private(self, ds: Dataset, tag: int) -> bool:
        if "retain-safe-private" not in self.profile.options or not self.profile.safe_private:
            return False
        group, element = tag >> 16, tag & 0xFFFF
        if element < 0x1000:
            return False  # creators are kept only for the elements they reserve
        creator_elem = ds.get((group << 16) | (element >> 8))
        if creator_elem is None or not isinstance(creator_elem.value, str):
            return False
        key = SafePrivate(creator_elem.value.strip().upper(), group, element & 0xFF)
        return key in self.profile.safe_private

    # -- the walk -------------------------------------------------------
    def clean(self, ds: Dataset, path: Path = ()) -> None:
        # The element store itself (see elements.values): elements removed or
        # kept as they are never get decoded.
        for tag, raw in list(ds._dict.items()):
            t = int(tag)
            if t >> 16 & 1 and 0x0010 <= t & 0xFFFF <= 0x00FF:
                continue  # private creators: pruned below once their blocks are known
            action = self.action_of(ds, t, path)
            if action == "X" or (action is None and not dictionary_has_tag(t)):
                del ds._dict[tag]  # removed without decoding it first
                continue
            vr = raw.VR or (dictionary_VR(t) if dictionary_has_tag(t) else "UN")
            if action is None and self._mode and vr in _DUMMIED_VRS:
                action = self._mode  # inside a replaced/cleaned sequence: no free text
            if vr != "SQ" and action in (None, "K"):
                continue  # kept as it came (and written back as it came)
            if vr != "SQ" and self._replace_raw(ds, tag, raw, vr, action):
                continue
            try:
                elem = ds[tag]
            except Exception:  # a value pydicom cannot read cannot be cleaned: drop it
                del ds._dict[tag]
                continue
            if action is None:
                if elem.VR == "SQ":
                    self._items(elem, (*path, t))
                continue
            self._apply(ds, elem, action, path)
        self._prune_creators(ds)

    def _replace_raw(self, ds: Dataset, tag: BaseTag, raw: object, vr: str,
                     action: str | None) -> bool:
        """Z, D and U straight from the raw element (no decoding); False: not handled."""
        if not isinstance(raw, RawDataElement):
            return False
        if action == "Z":
            ds[tag] = DataElement(tag, vr, None)
        elif action in ("U", "D") and vr == "UI":
            data = raw.value or b""
            if not data.isascii():
                return False
            uids = [u for u in data.decode("ascii").strip(" \0").split("\\") if u.strip(" \0")]
            mapped = [self.pseudo.uid(u) for u in uids]
            ds[tag] = DataElement(tag, vr, mapped[0] if len(mapped) == 1 else mapped or None)
        elif action == "D":
            ds[tag] = DataElement(tag, vr, dummy(vr))
        else:
            return False
        return True

    def _items(self, elem: DataElement, path: Path) -> None:
        for item in elem.value or ():
            self.clean(item, path)

    def _apply(self, ds: Dataset, elem: DataElement, action: str, path: Path) -> None:
        t = int(elem.tag)
        if action == "X":
            del ds[elem.tag]
        elif elem.VR == "SQ":
            if action == "Z":
                elem.value = []
            elif action in ("D", "C"):  # the structure stays, its free text does not
                outer, self._mode = self._mode, ("D" if "D" in (action, self._mode) else "C")
                try:
                    self._items(elem, (*path, t))
                finally:
                    self._mode = outer
            else:  # K, U on a sequence: keep it, clean what is inside
                self._items(elem, (*path, t))
        elif action == "K":
            pass
        elif action == "Z":
            elem.value = None
        elif action == "U" or elem.VR == "UI":
            self._uids(elem)
        elif action == "D":
            elem.value = dummy(elem.VR)
        elif action == "C":
            self._clean_value(ds, elem, path)
        else:  # an action this code does not know: remove rather than guess
            del ds[elem.tag]

    def _uids(self, elem: DataElement) -> None:
        value = elem.value
        if value is None or value == "":
            return
        if isinstance(value, str):
            elem.value = self.pseudo.uid(value)
        else:
            elem.value = [self.pseudo.uid(str(v)) for v in value]

    def _clean_value(self, ds: Dataset, elem: DataElement, path: Path) -> None:
        vr = elem.VR
        if vr in ("DA", "DT") and self.profile.shifts_dates:
            shift = shift_date if vr == "DA" else shift_datetime
            values = [elem.value] if isinstance(elem.value, str) else list(elem.value or [])
            moved = [shift(str(v), self.shift_days) if str(v).strip() else "" for v in values]
            if all(m is not None for m in moved):
                elem.value = moved[0] if len(moved) == 1 else moved
                return
        elif vr == "TM" and self.profile.shifts_dates:
            return  # whole-day shifts leave times of day as they were
        elif vr in ("DA", "DT", "TM") and "retain-full-dates" in self.profile.options:
            return
        elif vr in _TEXT_VRS and vr != "PN":
            values = [elem.value] if isinstance(elem.value, str) else list(elem.value or [])
            if all(descriptor_is_safe(str(v)) for v in values):
                return
        elif vr not in _TEXT_VRS and vr not in ("DA", "DT", "TM"):
            return  # numbers and codes the option retains (sizes, weights, flags)
        # Not cleanable: fall back to what the Basic profile does with it.
        fallback = self._basic_action(int(elem.tag), path)
        self._apply(ds, elem, "X" if fallback == "C" else fallback, path)

    @staticmethod
    def _prune_creators(ds: Dataset) -> None:
        tags = list(ds.keys())
        used = {(int(t) >> 16, (int(t) & 0xFF00) >> 8) for t in tags
                if int(t) >> 16 & 1 and int(t) & 0xFFFF >= 0x1000}
        for tag in tags:
            t = int(tag)
            if t >> 16 & 1 and 0x0010 <= t & 0xFFFF <= 0x00FF and (t >> 16, t & 0xFF) not in used:
                del ds[tag]
            elif t >> 16 & 1 and t & 0xFFFF < 0x0010:
                del ds[tag]  # group lengths and illegal private elements
