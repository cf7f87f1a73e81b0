# ruff: noqa
# mypy: ignore-errors
# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'detail_pane.ui'
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
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QFormLayout, QFrame,
    QGridLayout, QGroupBox, QHBoxLayout, QHeaderView,
    QLabel, QLineEdit, QPlainTextEdit, QPushButton,
    QScrollArea, QSizePolicy, QSpacerItem, QSplitter,
    QStackedWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
    QWidget)

class Ui_DetailPane(object):
    def setupUi(self, DetailPane):
        if not DetailPane.objectName():
            DetailPane.setObjectName(u"DetailPane")
        DetailPane.resize(1000, 360)
        self.paneLayout = QVBoxLayout(DetailPane)
        self.paneLayout.setObjectName(u"paneLayout")
        self.paneLayout.setContentsMargins(0, 0, 0, 0)
        self.pages = QStackedWidget(DetailPane)
        self.pages.setObjectName(u"pages")
        self.emptyPage = QWidget()
        self.emptyPage.setObjectName(u"emptyPage")
        self.emptyLayout = QVBoxLayout(self.emptyPage)
        self.emptyLayout.setObjectName(u"emptyLayout")
        self.emptyLabel = QLabel(self.emptyPage)
        self.emptyLabel.setObjectName(u"emptyLabel")
        self.emptyLabel.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.emptyLabel.setWordWrap(True)

        self.emptyLayout.addWidget(self.emptyLabel)

        self.pages.addWidget(self.emptyPage)
        self.detailsPage = QWidget()
        self.detailsPage.setObjectName(u"detailsPage")
        self.detailsLayout = QVBoxLayout(self.detailsPage)
        self.detailsLayout.setObjectName(u"detailsLayout")
        self.detailsLayout.setContentsMargins(0, 0, 0, 0)
        self.detailSplitter = QSplitter(self.detailsPage)
        self.detailSplitter.setObjectName(u"detailSplitter")
        self.detailSplitter.setOrientation(Qt.Orientation.Vertical)
        self.detailSplitter.setChildrenCollapsible(False)
        self.infoScroll = QScrollArea(self.detailSplitter)
        self.infoScroll.setObjectName(u"infoScroll")
        self.infoScroll.setFrameShape(QFrame.Shape.NoFrame)
        self.infoScroll.setWidgetResizable(True)
        self.infoWidget = QWidget()
        self.infoWidget.setObjectName(u"infoWidget")
        self.infoWidget.setGeometry(QRect(0, 0, 480, 600))
        self.infoLayout = QGridLayout(self.infoWidget)
        self.infoLayout.setObjectName(u"infoLayout")
        self.headLayout = QVBoxLayout()
        self.headLayout.setSpacing(4)
        self.headLayout.setObjectName(u"headLayout")
        self.titleLabel = QLabel(self.infoWidget)
        self.titleLabel.setObjectName(u"titleLabel")
        self.titleLabel.setWordWrap(True)
        self.titleLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.headLayout.addWidget(self.titleLabel)

        self.commandLine = QLabel(self.infoWidget)
        self.commandLine.setObjectName(u"commandLine")
        self.commandLine.setWordWrap(True)
        self.commandLine.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.headLayout.addWidget(self.commandLine)

        self.awaitingInput = QLabel(self.infoWidget)
        self.awaitingInput.setObjectName(u"awaitingInput")
        self.awaitingInput.setWordWrap(True)

        self.headLayout.addWidget(self.awaitingInput)


        self.infoLayout.addLayout(self.headLayout, 0, 0, 1, 2)

        self.waitBanner = QLabel(self.infoWidget)
        self.waitBanner.setObjectName(u"waitBanner")
        self.waitBanner.setWordWrap(True)
        self.waitBanner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.infoLayout.addWidget(self.waitBanner, 1, 0, 1, 2)

        self.errorBox = QGroupBox(self.infoWidget)
        self.errorBox.setObjectName(u"errorBox")
        self.errorForm = QFormLayout(self.errorBox)
        self.errorForm.setObjectName(u"errorForm")
        self.errorForm.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.errorCodeCaption = QLabel(self.errorBox)
        self.errorCodeCaption.setObjectName(u"errorCodeCaption")

        self.errorForm.setWidget(0, QFormLayout.ItemRole.LabelRole, self.errorCodeCaption)

        self.errorCode = QLabel(self.errorBox)
        self.errorCode.setObjectName(u"errorCode")
        self.errorCode.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.errorForm.setWidget(0, QFormLayout.ItemRole.FieldRole, self.errorCode)

        self.errorMessageCaption = QLabel(self.errorBox)
        self.errorMessageCaption.setObjectName(u"errorMessageCaption")

        self.errorForm.setWidget(1, QFormLayout.ItemRole.LabelRole, self.errorMessageCaption)

        self.errorMessage = QLabel(self.errorBox)
        self.errorMessage.setObjectName(u"errorMessage")
        self.errorMessage.setWordWrap(True)
        self.errorMessage.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.errorForm.setWidget(1, QFormLayout.ItemRole.FieldRole, self.errorMessage)

        self.errorDescriptionCaption = QLabel(self.errorBox)
        self.errorDescriptionCaption.setObjectName(u"errorDescriptionCaption")

        self.errorForm.setWidget(2, QFormLayout.ItemRole.LabelRole, self.errorDescriptionCaption)

        self.errorDescription = QLabel(self.errorBox)
        self.errorDescription.setObjectName(u"errorDescription")
        self.errorDescription.setWordWrap(True)
        self.errorDescription.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.errorForm.setWidget(2, QFormLayout.ItemRole.FieldRole, self.errorDescription)

        self.errorSuggestionCaption = QLabel(self.errorBox)
        self.errorSuggestionCaption.setObjectName(u"errorSuggestionCaption")

        self.errorForm.setWidget(3, QFormLayout.ItemRole.LabelRole, self.errorSuggestionCaption)

        self.errorSuggestion = QLabel(self.errorBox)
        self.errorSuggestion.setObjectName(u"errorSuggestion")
        self.errorSuggestion.setWordWrap(True)
        self.errorSuggestion.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.errorForm.setWidget(3, QFormLayout.ItemRole.FieldRole, self.errorSuggestion)

        self.openCredentialsButton = QPushButton(self.errorBox)
        self.openCredentialsButton.setObjectName(u"openCredentialsButton")
        sizePolicy = QSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        sizePolicy.setHorizontalStretch(0)
        sizePolicy.setVerticalStretch(0)
        sizePolicy.setHeightForWidth(self.openCredentialsButton.sizePolicy().hasHeightForWidth())
        self.openCredentialsButton.setSizePolicy(sizePolicy)

        self.errorForm.setWidget(4, QFormLayout.ItemRole.FieldRole, self.openCredentialsButton)


        self.infoLayout.addWidget(self.errorBox, 2, 0, 1, 2)

        self.overviewBox = QGroupBox(self.infoWidget)
        self.overviewBox.setObjectName(u"overviewBox")
        self.overviewForm = QFormLayout(self.overviewBox)
        self.overviewForm.setObjectName(u"overviewForm")
        self.overviewForm.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.idValueCaption = QLabel(self.overviewBox)
        self.idValueCaption.setObjectName(u"idValueCaption")

        self.overviewForm.setWidget(0, QFormLayout.ItemRole.LabelRole, self.idValueCaption)

        self.idValue = QLabel(self.overviewBox)
        self.idValue.setObjectName(u"idValue")
        self.idValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.overviewForm.setWidget(0, QFormLayout.ItemRole.FieldRole, self.idValue)

        self.statusValueCaption = QLabel(self.overviewBox)
        self.statusValueCaption.setObjectName(u"statusValueCaption")

        self.overviewForm.setWidget(1, QFormLayout.ItemRole.LabelRole, self.statusValueCaption)

        self.statusValue = QLabel(self.overviewBox)
        self.statusValue.setObjectName(u"statusValue")
        self.statusValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.overviewForm.setWidget(1, QFormLayout.ItemRole.FieldRole, self.statusValue)

        self.typeValueCaption = QLabel(self.overviewBox)
        self.typeValueCaption.setObjectName(u"typeValueCaption")

        self.overviewForm.setWidget(2, QFormLayout.ItemRole.LabelRole, self.typeValueCaption)

        self.typeValue = QLabel(self.overviewBox)
        self.typeValue.setObjectName(u"typeValue")
        self.typeValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.overviewForm.setWidget(2, QFormLayout.ItemRole.FieldRole, self.typeValue)

        self.priorityValueCaption = QLabel(self.overviewBox)
        self.priorityValueCaption.setObjectName(u"priorityValueCaption")

        self.overviewForm.setWidget(3, QFormLayout.ItemRole.LabelRole, self.priorityValueCaption)

        self.priorityValue = QLabel(self.overviewBox)
        self.priorityValue.setObjectName(u"priorityValue")
        self.priorityValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.overviewForm.setWidget(3, QFormLayout.ItemRole.FieldRole, self.priorityValue)

        self.categoryValueCaption = QLabel(self.overviewBox)
        self.categoryValueCaption.setObjectName(u"categoryValueCaption")

        self.overviewForm.setWidget(4, QFormLayout.ItemRole.LabelRole, self.categoryValueCaption)

        self.categoryValue = QLabel(self.overviewBox)
        self.categoryValue.setObjectName(u"categoryValue")
        self.categoryValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.overviewForm.setWidget(4, QFormLayout.ItemRole.FieldRole, self.categoryValue)

        self.tagsValueCaption = QLabel(self.overviewBox)
        self.tagsValueCaption.setObjectName(u"tagsValueCaption")

        self.overviewForm.setWidget(5, QFormLayout.ItemRole.LabelRole, self.tagsValueCaption)

        self.tagsValue = QLabel(self.overviewBox)
        self.tagsValue.setObjectName(u"tagsValue")
        self.tagsValue.setWordWrap(True)
        self.tagsValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.overviewForm.setWidget(5, QFormLayout.ItemRole.FieldRole, self.tagsValue)

        self.progressValueCaption = QLabel(self.overviewBox)
        self.progressValueCaption.setObjectName(u"progressValueCaption")

        self.overviewForm.setWidget(6, QFormLayout.ItemRole.LabelRole, self.progressValueCaption)

        self.progressValue = QLabel(self.overviewBox)
        self.progressValue.setObjectName(u"progressValue")
        self.progressValue.setWordWrap(True)
        self.progressValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.overviewForm.setWidget(6, QFormLayout.ItemRole.FieldRole, self.progressValue)


        self.infoLayout.addWidget(self.overviewBox, 3, 0, 1, 1)

        self.timingBox = QGroupBox(self.infoWidget)
        self.timingBox.setObjectName(u"timingBox")
        self.timingForm = QFormLayout(self.timingBox)
        self.timingForm.setObjectName(u"timingForm")
        self.timingForm.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.createdValueCaption = QLabel(self.timingBox)
        self.createdValueCaption.setObjectName(u"createdValueCaption")

        self.timingForm.setWidget(0, QFormLayout.ItemRole.LabelRole, self.createdValueCaption)

        self.createdValue = QLabel(self.timingBox)
        self.createdValue.setObjectName(u"createdValue")
        self.createdValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.timingForm.setWidget(0, QFormLayout.ItemRole.FieldRole, self.createdValue)

        self.startedValueCaption = QLabel(self.timingBox)
        self.startedValueCaption.setObjectName(u"startedValueCaption")

        self.timingForm.setWidget(1, QFormLayout.ItemRole.LabelRole, self.startedValueCaption)

        self.startedValue = QLabel(self.timingBox)
        self.startedValue.setObjectName(u"startedValue")
        self.startedValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.timingForm.setWidget(1, QFormLayout.ItemRole.FieldRole, self.startedValue)

        self.finishedValueCaption = QLabel(self.timingBox)
        self.finishedValueCaption.setObjectName(u"finishedValueCaption")

        self.timingForm.setWidget(2, QFormLayout.ItemRole.LabelRole, self.finishedValueCaption)

        self.finishedValue = QLabel(self.timingBox)
        self.finishedValue.setObjectName(u"finishedValue")
        self.finishedValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.timingForm.setWidget(2, QFormLayout.ItemRole.FieldRole, self.finishedValue)

        self.durationValueCaption = QLabel(self.timingBox)
        self.durationValueCaption.setObjectName(u"durationValueCaption")

        self.timingForm.setWidget(3, QFormLayout.ItemRole.LabelRole, self.durationValueCaption)

        self.durationValue = QLabel(self.timingBox)
        self.durationValue.setObjectName(u"durationValue")
        self.durationValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.timingForm.setWidget(3, QFormLayout.ItemRole.FieldRole, self.durationValue)

        self.waitedValueCaption = QLabel(self.timingBox)
        self.waitedValueCaption.setObjectName(u"waitedValueCaption")

        self.timingForm.setWidget(4, QFormLayout.ItemRole.LabelRole, self.waitedValueCaption)

        self.waitedValue = QLabel(self.timingBox)
        self.waitedValue.setObjectName(u"waitedValue")
        self.waitedValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.timingForm.setWidget(4, QFormLayout.ItemRole.FieldRole, self.waitedValue)

        self.timeoutValueCaption = QLabel(self.timingBox)
        self.timeoutValueCaption.setObjectName(u"timeoutValueCaption")

        self.timingForm.setWidget(5, QFormLayout.ItemRole.LabelRole, self.timeoutValueCaption)

        self.timeoutValue = QLabel(self.timingBox)
        self.timeoutValue.setObjectName(u"timeoutValue")
        self.timeoutValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.timingForm.setWidget(5, QFormLayout.ItemRole.FieldRole, self.timeoutValue)


        self.infoLayout.addWidget(self.timingBox, 3, 1, 1, 1)

        self.layersBox = QGroupBox(self.infoWidget)
        self.layersBox.setObjectName(u"layersBox")
        self.layersLayout = QVBoxLayout(self.layersBox)
        self.layersLayout.setObjectName(u"layersLayout")
        self.layerView = QTreeWidget(self.layersBox)
        self.layerView.setObjectName(u"layerView")
        self.layerView.setMinimumSize(QSize(0, 90))
        self.layerView.setMaximumSize(QSize(16777215, 220))
        self.layerView.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.layerView.setRootIsDecorated(False)
        self.layerView.setUniformRowHeights(True)
        self.layerView.setWordWrap(False)
        self.layerView.setColumnCount(3)

        self.layersLayout.addWidget(self.layerView)


        self.infoLayout.addWidget(self.layersBox, 4, 0, 1, 2)

        self.schedulingBox = QGroupBox(self.infoWidget)
        self.schedulingBox.setObjectName(u"schedulingBox")
        self.schedulingForm = QFormLayout(self.schedulingBox)
        self.schedulingForm.setObjectName(u"schedulingForm")
        self.schedulingForm.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.queueValueCaption = QLabel(self.schedulingBox)
        self.queueValueCaption.setObjectName(u"queueValueCaption")

        self.schedulingForm.setWidget(0, QFormLayout.ItemRole.LabelRole, self.queueValueCaption)

        self.queueValue = QLabel(self.schedulingBox)
        self.queueValue.setObjectName(u"queueValue")
        self.queueValue.setWordWrap(True)
        self.queueValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.schedulingForm.setWidget(0, QFormLayout.ItemRole.FieldRole, self.queueValue)

        self.permissionValueCaption = QLabel(self.schedulingBox)
        self.permissionValueCaption.setObjectName(u"permissionValueCaption")

        self.schedulingForm.setWidget(1, QFormLayout.ItemRole.LabelRole, self.permissionValueCaption)

        self.permissionValue = QLabel(self.schedulingBox)
        self.permissionValue.setObjectName(u"permissionValue")
        self.permissionValue.setWordWrap(True)
        self.permissionValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.schedulingForm.setWidget(1, QFormLayout.ItemRole.FieldRole, self.permissionValue)

        self.resourcesValueCaption = QLabel(self.schedulingBox)
        self.resourcesValueCaption.setObjectName(u"resourcesValueCaption")

        self.schedulingForm.setWidget(2, QFormLayout.ItemRole.LabelRole, self.resourcesValueCaption)

        self.resourcesValue = QLabel(self.schedulingBox)
        self.resourcesValue.setObjectName(u"resourcesValue")
        self.resourcesValue.setWordWrap(True)
        self.resourcesValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.schedulingForm.setWidget(2, QFormLayout.ItemRole.FieldRole, self.resourcesValue)

        self.runAtValueCaption = QLabel(self.schedulingBox)
        self.runAtValueCaption.setObjectName(u"runAtValueCaption")

        self.schedulingForm.setWidget(3, QFormLayout.ItemRole.LabelRole, self.runAtValueCaption)

        self.runAtValue = QLabel(self.schedulingBox)
        self.runAtValue.setObjectName(u"runAtValue")
        self.runAtValue.setWordWrap(True)
        self.runAtValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.schedulingForm.setWidget(3, QFormLayout.ItemRole.FieldRole, self.runAtValue)

        self.expiresValueCaption = QLabel(self.schedulingBox)
        self.expiresValueCaption.setObjectName(u"expiresValueCaption")

        self.schedulingForm.setWidget(4, QFormLayout.ItemRole.LabelRole, self.expiresValueCaption)

        self.expiresValue = QLabel(self.schedulingBox)
        self.expiresValue.setObjectName(u"expiresValue")
        self.expiresValue.setWordWrap(True)
        self.expiresValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.schedulingForm.setWidget(4, QFormLayout.ItemRole.FieldRole, self.expiresValue)

        self.scheduleValueCaption = QLabel(self.schedulingBox)
        self.scheduleValueCaption.setObjectName(u"scheduleValueCaption")

        self.schedulingForm.setWidget(5, QFormLayout.ItemRole.LabelRole, self.scheduleValueCaption)

        self.scheduleValue = QLabel(self.schedulingBox)
        self.scheduleValue.setObjectName(u"scheduleValue")
        self.scheduleValue.setWordWrap(True)
        self.scheduleValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.schedulingForm.setWidget(5, QFormLayout.ItemRole.FieldRole, self.scheduleValue)

        self.dependencyPolicyValueCaption = QLabel(self.schedulingBox)
        self.dependencyPolicyValueCaption.setObjectName(u"dependencyPolicyValueCaption")

        self.schedulingForm.setWidget(6, QFormLayout.ItemRole.LabelRole, self.dependencyPolicyValueCaption)

        self.dependencyPolicyValue = QLabel(self.schedulingBox)
        self.dependencyPolicyValue.setObjectName(u"dependencyPolicyValue")
        self.dependencyPolicyValue.setWordWrap(True)
        self.dependencyPolicyValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.schedulingForm.setWidget(6, QFormLayout.ItemRole.FieldRole, self.dependencyPolicyValue)

        self.culpritValueCaption = QLabel(self.schedulingBox)
        self.culpritValueCaption.setObjectName(u"culpritValueCaption")

        self.schedulingForm.setWidget(7, QFormLayout.ItemRole.LabelRole, self.culpritValueCaption)

        self.culpritValue = QLabel(self.schedulingBox)
        self.culpritValue.setObjectName(u"culpritValue")
        self.culpritValue.setWordWrap(True)
        self.culpritValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.schedulingForm.setWidget(7, QFormLayout.ItemRole.FieldRole, self.culpritValue)

        self.dependencyViewCaption = QLabel(self.schedulingBox)
        self.dependencyViewCaption.setObjectName(u"dependencyViewCaption")

        self.schedulingForm.setWidget(8, QFormLayout.ItemRole.LabelRole, self.dependencyViewCaption)

        self.dependencyView = QTreeWidget(self.schedulingBox)
        self.dependencyView.setObjectName(u"dependencyView")
        self.dependencyView.setMinimumSize(QSize(0, 60))
        self.dependencyView.setMaximumSize(QSize(16777215, 200))
        self.dependencyView.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.dependencyView.setRootIsDecorated(False)
        self.dependencyView.setUniformRowHeights(True)
        self.dependencyView.setWordWrap(False)
        self.dependencyView.setColumnCount(3)

        self.schedulingForm.setWidget(8, QFormLayout.ItemRole.FieldRole, self.dependencyView)


        self.infoLayout.addWidget(self.schedulingBox, 5, 0, 1, 2)

        self.paramsBox = QGroupBox(self.infoWidget)
        self.paramsBox.setObjectName(u"paramsBox")
        self.paramsLayout = QVBoxLayout(self.paramsBox)
        self.paramsLayout.setObjectName(u"paramsLayout")
        self.paramsView = QTreeWidget(self.paramsBox)
        self.paramsView.setObjectName(u"paramsView")
        self.paramsView.setMinimumSize(QSize(0, 90))
        self.paramsView.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.paramsView.setRootIsDecorated(False)
        self.paramsView.setUniformRowHeights(True)
        self.paramsView.setWordWrap(False)
        self.paramsView.setColumnCount(2)

        self.paramsLayout.addWidget(self.paramsView)


        self.infoLayout.addWidget(self.paramsBox, 6, 0, 1, 1)

        self.retryBox = QGroupBox(self.infoWidget)
        self.retryBox.setObjectName(u"retryBox")
        self.retryForm = QFormLayout(self.retryBox)
        self.retryForm.setObjectName(u"retryForm")
        self.retryForm.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.retriesValueCaption = QLabel(self.retryBox)
        self.retriesValueCaption.setObjectName(u"retriesValueCaption")

        self.retryForm.setWidget(0, QFormLayout.ItemRole.LabelRole, self.retriesValueCaption)

        self.retriesValue = QLabel(self.retryBox)
        self.retriesValue.setObjectName(u"retriesValue")
        self.retriesValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.retryForm.setWidget(0, QFormLayout.ItemRole.FieldRole, self.retriesValue)

        self.nextAttemptValueCaption = QLabel(self.retryBox)
        self.nextAttemptValueCaption.setObjectName(u"nextAttemptValueCaption")

        self.retryForm.setWidget(1, QFormLayout.ItemRole.LabelRole, self.nextAttemptValueCaption)

        self.nextAttemptValue = QLabel(self.retryBox)
        self.nextAttemptValue.setObjectName(u"nextAttemptValue")
        self.nextAttemptValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.retryForm.setWidget(1, QFormLayout.ItemRole.FieldRole, self.nextAttemptValue)

        self.deadLetterValueCaption = QLabel(self.retryBox)
        self.deadLetterValueCaption.setObjectName(u"deadLetterValueCaption")

        self.retryForm.setWidget(2, QFormLayout.ItemRole.LabelRole, self.deadLetterValueCaption)

        self.deadLetterValue = QLabel(self.retryBox)
        self.deadLetterValue.setObjectName(u"deadLetterValue")
        self.deadLetterValue.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.retryForm.setWidget(2, QFormLayout.ItemRole.FieldRole, self.deadLetterValue)


        self.infoLayout.addWidget(self.retryBox, 6, 1, 1, 1)

        self.infoSpacer = QSpacerItem(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.infoLayout.addItem(self.infoSpacer, 7, 0, 1, 2)

        self.infoScroll.setWidget(self.infoWidget)
        self.detailSplitter.addWidget(self.infoScroll)
        self.logBox = QGroupBox(self.detailSplitter)
        self.logBox.setObjectName(u"logBox")
        self.logLayout = QVBoxLayout(self.logBox)
        self.logLayout.setObjectName(u"logLayout")
        self.logView = QPlainTextEdit(self.logBox)
        self.logView.setObjectName(u"logView")
        self.logView.setUndoRedoEnabled(False)
        self.logView.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.logView.setReadOnly(True)
        self.logView.setMaximumBlockCount(5000)

        self.logLayout.addWidget(self.logView)

        self.inputLayout = QHBoxLayout()
        self.inputLayout.setObjectName(u"inputLayout")
        self.stdinInput = QLineEdit(self.logBox)
        self.stdinInput.setObjectName(u"stdinInput")
        self.stdinInput.setClearButtonEnabled(True)

        self.inputLayout.addWidget(self.stdinInput)

        self.sendInputButton = QPushButton(self.logBox)
        self.sendInputButton.setObjectName(u"sendInputButton")

        self.inputLayout.addWidget(self.sendInputButton)


        self.logLayout.addLayout(self.inputLayout)

        self.inputError = QLabel(self.logBox)
        self.inputError.setObjectName(u"inputError")
        self.inputError.setWordWrap(True)
        self.inputError.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.logLayout.addWidget(self.inputError)

        self.detailSplitter.addWidget(self.logBox)

        self.detailsLayout.addWidget(self.detailSplitter)

        self.pages.addWidget(self.detailsPage)

        self.paneLayout.addWidget(self.pages)


        self.retranslateUi(DetailPane)

        self.pages.setCurrentIndex(0)


        QMetaObject.connectSlotsByName(DetailPane)
    # setupUi

    def retranslateUi(self, DetailPane):
        self.emptyLabel.setText(QCoreApplication.translate("DetailPane", u"Select a task to see its parameters, timings, error and log.", None))
        self.titleLabel.setText("")
#if QT_CONFIG(tooltip)
        self.commandLine.setToolTip(QCoreApplication.translate("DetailPane", u"What runs first: the command line, shell-quoted, or what the task does", None))
#endif // QT_CONFIG(tooltip)
        self.commandLine.setText("")
        self.awaitingInput.setText(QCoreApplication.translate("DetailPane", u"\u2328 Awaiting input: type it below the log and press Enter", None))
        self.waitBanner.setText("")
        self.errorBox.setTitle(QCoreApplication.translate("DetailPane", u"Error", None))
        self.errorCodeCaption.setText(QCoreApplication.translate("DetailPane", u"Code", None))
        self.errorCode.setText("")
        self.errorMessageCaption.setText(QCoreApplication.translate("DetailPane", u"Message", None))
        self.errorMessage.setText("")
        self.errorDescriptionCaption.setText(QCoreApplication.translate("DetailPane", u"What happened", None))
        self.errorDescription.setText("")
        self.errorSuggestionCaption.setText(QCoreApplication.translate("DetailPane", u"What to do", None))
        self.errorSuggestion.setText("")
#if QT_CONFIG(tooltip)
        self.openCredentialsButton.setToolTip(QCoreApplication.translate("DetailPane", u"Add or change the stored credential this task needs, then retry it", None))
#endif // QT_CONFIG(tooltip)
        self.openCredentialsButton.setText(QCoreApplication.translate("DetailPane", u"Open credentials\u2026", None))
        self.overviewBox.setTitle(QCoreApplication.translate("DetailPane", u"Task", None))
        self.idValueCaption.setText(QCoreApplication.translate("DetailPane", u"Id", None))
        self.idValue.setText("")
        self.statusValueCaption.setText(QCoreApplication.translate("DetailPane", u"Status", None))
        self.statusValue.setText("")
        self.typeValueCaption.setText(QCoreApplication.translate("DetailPane", u"Type", None))
        self.typeValue.setText("")
        self.priorityValueCaption.setText(QCoreApplication.translate("DetailPane", u"Priority", None))
        self.priorityValue.setText("")
        self.categoryValueCaption.setText(QCoreApplication.translate("DetailPane", u"Category", None))
        self.categoryValue.setText("")
        self.tagsValueCaption.setText(QCoreApplication.translate("DetailPane", u"Tags", None))
        self.tagsValue.setText("")
        self.progressValueCaption.setText(QCoreApplication.translate("DetailPane", u"Progress", None))
        self.progressValue.setText("")
        self.timingBox.setTitle(QCoreApplication.translate("DetailPane", u"Timing", None))
        self.createdValueCaption.setText(QCoreApplication.translate("DetailPane", u"Created", None))
        self.createdValue.setText("")
        self.startedValueCaption.setText(QCoreApplication.translate("DetailPane", u"Started", None))
        self.startedValue.setText("")
        self.finishedValueCaption.setText(QCoreApplication.translate("DetailPane", u"Finished", None))
        self.finishedValue.setText("")
        self.durationValueCaption.setText(QCoreApplication.translate("DetailPane", u"Running time", None))
        self.durationValue.setText("")
        self.waitedValueCaption.setText(QCoreApplication.translate("DetailPane", u"Waited", None))
        self.waitedValue.setText("")
        self.timeoutValueCaption.setText(QCoreApplication.translate("DetailPane", u"Time limit", None))
        self.timeoutValue.setText("")
        self.layersBox.setTitle(QCoreApplication.translate("DetailPane", u"Image layers", None))
        ___qtreewidgetitem = self.layerView.headerItem()
        ___qtreewidgetitem.setText(2, QCoreApplication.translate("DetailPane", u"Transferred", None))
        ___qtreewidgetitem.setText(1, QCoreApplication.translate("DetailPane", u"Status", None))
        ___qtreewidgetitem.setText(0, QCoreApplication.translate("DetailPane", u"Layer", None))
        self.schedulingBox.setTitle(QCoreApplication.translate("DetailPane", u"Scheduling", None))
        self.queueValueCaption.setText(QCoreApplication.translate("DetailPane", u"Queue", None))
        self.queueValue.setText("")
        self.permissionValueCaption.setText(QCoreApplication.translate("DetailPane", u"Permission", None))
        self.permissionValue.setText("")
        self.resourcesValueCaption.setText(QCoreApplication.translate("DetailPane", u"Needs", None))
        self.resourcesValue.setText("")
        self.runAtValueCaption.setText(QCoreApplication.translate("DetailPane", u"Not before", None))
        self.runAtValue.setText("")
        self.expiresValueCaption.setText(QCoreApplication.translate("DetailPane", u"Expires", None))
        self.expiresValue.setText("")
        self.scheduleValueCaption.setText(QCoreApplication.translate("DetailPane", u"From schedule", None))
        self.scheduleValue.setText("")
        self.dependencyPolicyValueCaption.setText(QCoreApplication.translate("DetailPane", u"If one fails", None))
        self.dependencyPolicyValue.setText("")
        self.culpritValueCaption.setText(QCoreApplication.translate("DetailPane", u"Failed dependency", None))
        self.culpritValue.setText("")
        self.dependencyViewCaption.setText(QCoreApplication.translate("DetailPane", u"Dependencies", None))
        ___qtreewidgetitem1 = self.dependencyView.headerItem()
        ___qtreewidgetitem1.setText(2, QCoreApplication.translate("DetailPane", u"Id", None))
        ___qtreewidgetitem1.setText(1, QCoreApplication.translate("DetailPane", u"Status", None))
        ___qtreewidgetitem1.setText(0, QCoreApplication.translate("DetailPane", u"Name", None))
        self.paramsBox.setTitle(QCoreApplication.translate("DetailPane", u"Parameters", None))
        ___qtreewidgetitem2 = self.paramsView.headerItem()
        ___qtreewidgetitem2.setText(1, QCoreApplication.translate("DetailPane", u"Value", None))
        ___qtreewidgetitem2.setText(0, QCoreApplication.translate("DetailPane", u"Name", None))
        self.retryBox.setTitle(QCoreApplication.translate("DetailPane", u"Retries", None))
        self.retriesValueCaption.setText(QCoreApplication.translate("DetailPane", u"Attempts", None))
        self.retriesValue.setText("")
        self.nextAttemptValueCaption.setText(QCoreApplication.translate("DetailPane", u"Next attempt", None))
        self.nextAttemptValue.setText("")
        self.deadLetterValueCaption.setText(QCoreApplication.translate("DetailPane", u"Dead letter", None))
        self.deadLetterValue.setText("")
        self.logBox.setTitle(QCoreApplication.translate("DetailPane", u"Log", None))
        self.logView.setPlaceholderText(QCoreApplication.translate("DetailPane", u"No output yet.", None))
        self.stdinInput.setPlaceholderText(QCoreApplication.translate("DetailPane", u"Input for the running command (Enter sends)", None))
        self.sendInputButton.setText(QCoreApplication.translate("DetailPane", u"Send", None))
        self.inputError.setText("")
        pass
    # retranslateUi

