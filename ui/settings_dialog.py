"""Settings: reader name, library location, cloud URL and account.  The
cloud password is never typed, shown or kept here: `main.py login` puts it
in the system keyring."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from engine.errors import MammoDeskError
from engine.settings import KEYS, Settings

LABELS = {
    "reader.name": "Reader name",
    "library.path": "Library folder",
    "cloud.url": "Cloud URL",
    "cloud.user": "Cloud account",
    "cloud.ca_bundle": "Extra CA bundle",
}


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        values = settings.all()
        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for key in KEYS:
            edit = QLineEdit(values.get(key, ""))
            edit.setToolTip(KEYS[key])
            self.fields[key] = edit
            form.addRow(LABELS[key], edit)
        note = QLabel("The cloud password is stored only in the system keyring "
                      "(main.py login); it is never shown here.")
        note.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(note)
        box.addWidget(self.error)
        box.addWidget(buttons)

    def save(self) -> None:
        try:
            self.settings.update({k: e.text() for k, e in self.fields.items()})
        except MammoDeskError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
