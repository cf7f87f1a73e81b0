# ruff: noqa
# mypy: ignore-errors
# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'schedule_dialog.ui'
##
## Created by: Qt User Interface Compiler version 6.11.3
##
## WARNING! All changes made in this file will be lost when recompiling UI file!
################################################################################

from PySide6.QtCore import (QCoreApplication, QDate, QDateTime, QLocale,
    QMetaObject, QObject, QPoint, QRect,
    QSize, QTime, QUrl, Qt)
from PySide6.QtGui import (QBrush, QColor, QConicalGradient, QCursor,
    QFont, QFontDatabase, QGradient, QIcon,
    QImage, QKeySequence, QLinearGradient, QPainter,
    QPalette, QPixmap, QRadialGradient, QTransform)
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QApplication, QDialog,
    QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel,
    QPushButton, QSizePolicy, QSpacerItem, QTableView,
    QVBoxLayout, QWidget)

class Ui_ScheduleDialog(object):
    def setupUi(self, ScheduleDialog):
        if not ScheduleDialog.objectName():
            ScheduleDialog.setObjectName(u"ScheduleDialog")
        ScheduleDialog.resize(980, 420)
        self.scheduleLayout = QVBoxLayout(ScheduleDialog)
        self.scheduleLayout.setObjectName(u"scheduleLayout")
        self.scheduleIntro = QLabel(ScheduleDialog)
        self.scheduleIntro.setObjectName(u"scheduleIntro")
        self.scheduleIntro.setWordWrap(True)

        self.scheduleLayout.addWidget(self.scheduleIntro)

        self.scheduleTable = QTableView(ScheduleDialog)
        self.scheduleTable.setObjectName(u"scheduleTable")
        self.scheduleTable.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.scheduleTable.setAlternatingRowColors(True)
        self.scheduleTable.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.scheduleTable.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.scheduleTable.setShowGrid(False)
        self.scheduleTable.setWordWrap(False)
        self.scheduleTable.horizontalHeader().setHighlightSections(False)
        self.scheduleTable.horizontalHeader().setStretchLastSection(True)
        self.scheduleTable.verticalHeader().setVisible(False)

        self.scheduleLayout.addWidget(self.scheduleTable)

        self.scheduleButtons = QHBoxLayout()
        self.scheduleButtons.setObjectName(u"scheduleButtons")
        self.addScheduleButton = QPushButton(ScheduleDialog)
        self.addScheduleButton.setObjectName(u"addScheduleButton")

        self.scheduleButtons.addWidget(self.addScheduleButton)

        self.editScheduleButton = QPushButton(ScheduleDialog)
        self.editScheduleButton.setObjectName(u"editScheduleButton")

        self.scheduleButtons.addWidget(self.editScheduleButton)

        self.pauseScheduleButton = QPushButton(ScheduleDialog)
        self.pauseScheduleButton.setObjectName(u"pauseScheduleButton")

        self.scheduleButtons.addWidget(self.pauseScheduleButton)

        self.runScheduleNowButton = QPushButton(ScheduleDialog)
        self.runScheduleNowButton.setObjectName(u"runScheduleNowButton")

        self.scheduleButtons.addWidget(self.runScheduleNowButton)

        self.scheduleButtonsSpacer = QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.scheduleButtons.addItem(self.scheduleButtonsSpacer)

        self.deleteScheduleButton = QPushButton(ScheduleDialog)
        self.deleteScheduleButton.setObjectName(u"deleteScheduleButton")

        self.scheduleButtons.addWidget(self.deleteScheduleButton)


        self.scheduleLayout.addLayout(self.scheduleButtons)

        self.scheduleMessage = QLabel(ScheduleDialog)
        self.scheduleMessage.setObjectName(u"scheduleMessage")
        self.scheduleMessage.setWordWrap(True)

        self.scheduleLayout.addWidget(self.scheduleMessage)

        self.buttonBox = QDialogButtonBox(ScheduleDialog)
        self.buttonBox.setObjectName(u"buttonBox")
        self.buttonBox.setStandardButtons(QDialogButtonBox.StandardButton.Close)

        self.scheduleLayout.addWidget(self.buttonBox)


        self.retranslateUi(ScheduleDialog)

        QMetaObject.connectSlotsByName(ScheduleDialog)
    # setupUi

    def retranslateUi(self, ScheduleDialog):
        ScheduleDialog.setWindowTitle(QCoreApplication.translate("ScheduleDialog", u"Schedules", None))
        self.scheduleIntro.setText(QCoreApplication.translate("ScheduleDialog", u"Each schedule adds its task to the queue at every due time, tagged schedule:<id>. Changes are live.", None))
        self.addScheduleButton.setText(QCoreApplication.translate("ScheduleDialog", u"&Add\u2026", None))
#if QT_CONFIG(tooltip)
        self.addScheduleButton.setToolTip(QCoreApplication.translate("ScheduleDialog", u"A new schedule: a task form, and when it recurs", None))
#endif // QT_CONFIG(tooltip)
        self.editScheduleButton.setText(QCoreApplication.translate("ScheduleDialog", u"&Edit\u2026", None))
        self.pauseScheduleButton.setText(QCoreApplication.translate("ScheduleDialog", u"&Pause", None))
        self.runScheduleNowButton.setText(QCoreApplication.translate("ScheduleDialog", u"&Run now", None))
#if QT_CONFIG(tooltip)
        self.runScheduleNowButton.setToolTip(QCoreApplication.translate("ScheduleDialog", u"Add one occurrence now; the next due time stays", None))
#endif // QT_CONFIG(tooltip)
        self.deleteScheduleButton.setText(QCoreApplication.translate("ScheduleDialog", u"&Delete\u2026", None))
#if QT_CONFIG(tooltip)
        self.deleteScheduleButton.setToolTip(QCoreApplication.translate("ScheduleDialog", u"Delete the schedule; tasks it added stay", None))
#endif // QT_CONFIG(tooltip)
        self.scheduleMessage.setText("")
    # retranslateUi

