# ruff: noqa
# mypy: ignore-errors
# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'main_window.ui'
##
## Created by: Qt User Interface Compiler version 6.11.3
##
## WARNING! All changes made in this file will be lost when recompiling UI file!
################################################################################

from PySide6.QtCore import (QCoreApplication, QDate, QDateTime, QLocale,
    QMetaObject, QObject, QPoint, QRect,
    QSize, QTime, QUrl, Qt)
from PySide6.QtGui import (QAction, QBrush, QColor, QConicalGradient,
    QCursor, QFont, QFontDatabase, QGradient,
    QIcon, QImage, QKeySequence, QLinearGradient,
    QPainter, QPalette, QPixmap, QRadialGradient,
    QTransform)
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QGridLayout,
    QHBoxLayout, QHeaderView, QLabel, QLineEdit,
    QMainWindow, QMenu, QMenuBar, QSizePolicy,
    QSpacerItem, QSplitter, QStatusBar, QTabWidget,
    QTableView, QToolBar, QVBoxLayout, QWidget)

class Ui_MainWindow(object):
    def setupUi(self, MainWindow):
        if not MainWindow.objectName():
            MainWindow.setObjectName(u"MainWindow")
        MainWindow.resize(1400, 900)
        self.actionNewTask = QAction(MainWindow)
        self.actionNewTask.setObjectName(u"actionNewTask")
        self.actionPause = QAction(MainWindow)
        self.actionPause.setObjectName(u"actionPause")
        self.actionPause.setEnabled(False)
        self.actionResume = QAction(MainWindow)
        self.actionResume.setObjectName(u"actionResume")
        self.actionResume.setEnabled(False)
        self.actionRetry = QAction(MainWindow)
        self.actionRetry.setObjectName(u"actionRetry")
        self.actionRetry.setEnabled(False)
        self.actionCancel = QAction(MainWindow)
        self.actionCancel.setObjectName(u"actionCancel")
        self.actionCancel.setEnabled(False)
        self.actionRemove = QAction(MainWindow)
        self.actionRemove.setObjectName(u"actionRemove")
        self.actionRemove.setEnabled(False)
        self.actionPauseQueue = QAction(MainWindow)
        self.actionPauseQueue.setObjectName(u"actionPauseQueue")
        self.actionPauseQueue.setCheckable(True)
        self.actionApprove = QAction(MainWindow)
        self.actionApprove.setObjectName(u"actionApprove")
        self.actionApprove.setEnabled(False)
        self.actionReject = QAction(MainWindow)
        self.actionReject.setObjectName(u"actionReject")
        self.actionReject.setEnabled(False)
        self.actionRequeueDeadLetters = QAction(MainWindow)
        self.actionRequeueDeadLetters.setObjectName(u"actionRequeueDeadLetters")
        self.actionRequeueDeadLetters.setEnabled(False)
        self.actionScheduleTask = QAction(MainWindow)
        self.actionScheduleTask.setObjectName(u"actionScheduleTask")
        self.actionScheduleTask.setEnabled(False)
        self.actionSchedules = QAction(MainWindow)
        self.actionSchedules.setObjectName(u"actionSchedules")
        self.actionRequeueAllDeadLetters = QAction(MainWindow)
        self.actionRequeueAllDeadLetters.setObjectName(u"actionRequeueAllDeadLetters")
        self.actionPurgeDeadLetters = QAction(MainWindow)
        self.actionPurgeDeadLetters.setObjectName(u"actionPurgeDeadLetters")
        self.actionSelectAll = QAction(MainWindow)
        self.actionSelectAll.setObjectName(u"actionSelectAll")
        self.actionFind = QAction(MainWindow)
        self.actionFind.setObjectName(u"actionFind")
        self.actionDetailPane = QAction(MainWindow)
        self.actionDetailPane.setObjectName(u"actionDetailPane")
        self.actionDetailPane.setCheckable(True)
        self.actionDetailPane.setChecked(True)
        self.actionQuit = QAction(MainWindow)
        self.actionQuit.setObjectName(u"actionQuit")
        self.centralWidget = QWidget(MainWindow)
        self.centralWidget.setObjectName(u"centralWidget")
        self.centralLayout = QVBoxLayout(self.centralWidget)
        self.centralLayout.setObjectName(u"centralLayout")
        self.centralLayout.setContentsMargins(6, 6, 6, 0)
        self.tabs = QTabWidget(self.centralWidget)
        self.tabs.setObjectName(u"tabs")
        self.tabs.setDocumentMode(True)
        self.tasksTab = QWidget()
        self.tasksTab.setObjectName(u"tasksTab")
        self.tasksLayout = QVBoxLayout(self.tasksTab)
        self.tasksLayout.setObjectName(u"tasksLayout")
        self.tasksLayout.setContentsMargins(0, 6, 0, 0)
        self.filterBar = QHBoxLayout()
        self.filterBar.setObjectName(u"filterBar")
        self.searchBox = QLineEdit(self.tasksTab)
        self.searchBox.setObjectName(u"searchBox")
        self.searchBox.setMinimumSize(QSize(260, 0))
        self.searchBox.setClearButtonEnabled(True)

        self.filterBar.addWidget(self.searchBox)

        self.filterStatusLabel = QLabel(self.tasksTab)
        self.filterStatusLabel.setObjectName(u"filterStatusLabel")

        self.filterBar.addWidget(self.filterStatusLabel)

        self.filterStatus = QComboBox(self.tasksTab)
        self.filterStatus.setObjectName(u"filterStatus")
        self.filterStatus.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        self.filterBar.addWidget(self.filterStatus)

        self.filterTypeLabel = QLabel(self.tasksTab)
        self.filterTypeLabel.setObjectName(u"filterTypeLabel")

        self.filterBar.addWidget(self.filterTypeLabel)

        self.filterType = QComboBox(self.tasksTab)
        self.filterType.setObjectName(u"filterType")
        self.filterType.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        self.filterBar.addWidget(self.filterType)

        self.filterCategoryLabel = QLabel(self.tasksTab)
        self.filterCategoryLabel.setObjectName(u"filterCategoryLabel")

        self.filterBar.addWidget(self.filterCategoryLabel)

        self.filterCategory = QComboBox(self.tasksTab)
        self.filterCategory.setObjectName(u"filterCategory")
        self.filterCategory.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        self.filterBar.addWidget(self.filterCategory)

        self.filterTagLabel = QLabel(self.tasksTab)
        self.filterTagLabel.setObjectName(u"filterTagLabel")

        self.filterBar.addWidget(self.filterTagLabel)

        self.filterTag = QComboBox(self.tasksTab)
        self.filterTag.setObjectName(u"filterTag")
        self.filterTag.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        self.filterBar.addWidget(self.filterTag)

        self.filterSpacer = QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.filterBar.addItem(self.filterSpacer)

        self.shownLabel = QLabel(self.tasksTab)
        self.shownLabel.setObjectName(u"shownLabel")

        self.filterBar.addWidget(self.shownLabel)


        self.tasksLayout.addLayout(self.filterBar)

        self.mainSplitter = QSplitter(self.tasksTab)
        self.mainSplitter.setObjectName(u"mainSplitter")
        sizePolicy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        sizePolicy.setHorizontalStretch(0)
        sizePolicy.setVerticalStretch(1)
        sizePolicy.setHeightForWidth(self.mainSplitter.sizePolicy().hasHeightForWidth())
        self.mainSplitter.setSizePolicy(sizePolicy)
        self.mainSplitter.setOrientation(Qt.Orientation.Horizontal)
        self.mainSplitter.setChildrenCollapsible(False)
        self.taskTable = QTableView(self.mainSplitter)
        self.taskTable.setObjectName(u"taskTable")
        self.taskTable.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.taskTable.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.taskTable.setAlternatingRowColors(True)
        self.taskTable.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.taskTable.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.taskTable.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.taskTable.setShowGrid(False)
        self.taskTable.setSortingEnabled(True)
        self.taskTable.setWordWrap(False)
        self.mainSplitter.addWidget(self.taskTable)
        self.taskTable.horizontalHeader().setHighlightSections(False)
        self.taskTable.horizontalHeader().setStretchLastSection(True)
        self.taskTable.verticalHeader().setVisible(False)

        self.tasksLayout.addWidget(self.mainSplitter)

        self.tabs.addTab(self.tasksTab, "")
        self.statsTab = QWidget()
        self.statsTab.setObjectName(u"statsTab")
        self.statsLayout = QVBoxLayout(self.statsTab)
        self.statsLayout.setObjectName(u"statsLayout")
        self.statsView = QWidget(self.statsTab)
        self.statsView.setObjectName(u"statsView")
        self.statsGrid = QGridLayout(self.statsView)
        self.statsGrid.setObjectName(u"statsGrid")
        self.statsGrid.setHorizontalSpacing(24)
        self.statTotalCaption = QLabel(self.statsView)
        self.statTotalCaption.setObjectName(u"statTotalCaption")

        self.statsGrid.addWidget(self.statTotalCaption, 0, 0, 1, 1)

        self.statTotal = QLabel(self.statsView)
        self.statTotal.setObjectName(u"statTotal")

        self.statsGrid.addWidget(self.statTotal, 0, 1, 1, 1)

        self.statRunningCaption = QLabel(self.statsView)
        self.statRunningCaption.setObjectName(u"statRunningCaption")

        self.statsGrid.addWidget(self.statRunningCaption, 1, 0, 1, 1)

        self.statRunning = QLabel(self.statsView)
        self.statRunning.setObjectName(u"statRunning")

        self.statsGrid.addWidget(self.statRunning, 1, 1, 1, 1)

        self.statQueuedCaption = QLabel(self.statsView)
        self.statQueuedCaption.setObjectName(u"statQueuedCaption")

        self.statsGrid.addWidget(self.statQueuedCaption, 2, 0, 1, 1)

        self.statQueued = QLabel(self.statsView)
        self.statQueued.setObjectName(u"statQueued")

        self.statsGrid.addWidget(self.statQueued, 2, 1, 1, 1)

        self.statCompletedCaption = QLabel(self.statsView)
        self.statCompletedCaption.setObjectName(u"statCompletedCaption")

        self.statsGrid.addWidget(self.statCompletedCaption, 3, 0, 1, 1)

        self.statCompleted = QLabel(self.statsView)
        self.statCompleted.setObjectName(u"statCompleted")

        self.statsGrid.addWidget(self.statCompleted, 3, 1, 1, 1)

        self.statFailedCaption = QLabel(self.statsView)
        self.statFailedCaption.setObjectName(u"statFailedCaption")

        self.statsGrid.addWidget(self.statFailedCaption, 4, 0, 1, 1)

        self.statFailed = QLabel(self.statsView)
        self.statFailed.setObjectName(u"statFailed")

        self.statsGrid.addWidget(self.statFailed, 4, 1, 1, 1)

        self.statSuccessRateCaption = QLabel(self.statsView)
        self.statSuccessRateCaption.setObjectName(u"statSuccessRateCaption")

        self.statsGrid.addWidget(self.statSuccessRateCaption, 5, 0, 1, 1)

        self.statSuccessRate = QLabel(self.statsView)
        self.statSuccessRate.setObjectName(u"statSuccessRate")

        self.statsGrid.addWidget(self.statSuccessRate, 5, 1, 1, 1)

        self.statAverageDurationCaption = QLabel(self.statsView)
        self.statAverageDurationCaption.setObjectName(u"statAverageDurationCaption")

        self.statsGrid.addWidget(self.statAverageDurationCaption, 6, 0, 1, 1)

        self.statAverageDuration = QLabel(self.statsView)
        self.statAverageDuration.setObjectName(u"statAverageDuration")

        self.statsGrid.addWidget(self.statAverageDuration, 6, 1, 1, 1)

        self.statDeadLettersCaption = QLabel(self.statsView)
        self.statDeadLettersCaption.setObjectName(u"statDeadLettersCaption")

        self.statsGrid.addWidget(self.statDeadLettersCaption, 7, 0, 1, 1)

        self.statDeadLetters = QLabel(self.statsView)
        self.statDeadLetters.setObjectName(u"statDeadLetters")

        self.statsGrid.addWidget(self.statDeadLetters, 7, 1, 1, 1)

        self.statConcurrencyCaption = QLabel(self.statsView)
        self.statConcurrencyCaption.setObjectName(u"statConcurrencyCaption")

        self.statsGrid.addWidget(self.statConcurrencyCaption, 8, 0, 1, 1)

        self.statConcurrency = QLabel(self.statsView)
        self.statConcurrency.setObjectName(u"statConcurrency")

        self.statsGrid.addWidget(self.statConcurrency, 8, 1, 1, 1)

        self.statQueueStateCaption = QLabel(self.statsView)
        self.statQueueStateCaption.setObjectName(u"statQueueStateCaption")

        self.statsGrid.addWidget(self.statQueueStateCaption, 9, 0, 1, 1)

        self.statQueueState = QLabel(self.statsView)
        self.statQueueState.setObjectName(u"statQueueState")

        self.statsGrid.addWidget(self.statQueueState, 9, 1, 1, 1)

        self.statsHorizontalSpacer = QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.statsGrid.addItem(self.statsHorizontalSpacer, 0, 2, 10, 1)


        self.statsLayout.addWidget(self.statsView)

        self.statsVerticalSpacer = QSpacerItem(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.statsLayout.addItem(self.statsVerticalSpacer)

        self.tabs.addTab(self.statsTab, "")

        self.centralLayout.addWidget(self.tabs)

        MainWindow.setCentralWidget(self.centralWidget)
        self.menuBar = QMenuBar(MainWindow)
        self.menuBar.setObjectName(u"menuBar")
        self.menuFile = QMenu(self.menuBar)
        self.menuFile.setObjectName(u"menuFile")
        self.menuTasks = QMenu(self.menuBar)
        self.menuTasks.setObjectName(u"menuTasks")
        self.menuQueue = QMenu(self.menuBar)
        self.menuQueue.setObjectName(u"menuQueue")
        self.menuView = QMenu(self.menuBar)
        self.menuView.setObjectName(u"menuView")
        self.menuColumns = QMenu(self.menuView)
        self.menuColumns.setObjectName(u"menuColumns")
        MainWindow.setMenuBar(self.menuBar)
        self.mainToolBar = QToolBar(MainWindow)
        self.mainToolBar.setObjectName(u"mainToolBar")
        self.mainToolBar.setMovable(False)
        self.mainToolBar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        MainWindow.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.mainToolBar)
        self.statusBar = QStatusBar(MainWindow)
        self.statusBar.setObjectName(u"statusBar")
        MainWindow.setStatusBar(self.statusBar)
#if QT_CONFIG(shortcut)
        self.filterStatusLabel.setBuddy(self.filterStatus)
        self.filterTypeLabel.setBuddy(self.filterType)
        self.filterCategoryLabel.setBuddy(self.filterCategory)
        self.filterTagLabel.setBuddy(self.filterTag)
#endif // QT_CONFIG(shortcut)

        self.menuBar.addAction(self.menuFile.menuAction())
        self.menuBar.addAction(self.menuTasks.menuAction())
        self.menuBar.addAction(self.menuQueue.menuAction())
        self.menuBar.addAction(self.menuView.menuAction())
        self.menuFile.addAction(self.actionNewTask)
        self.menuFile.addSeparator()
        self.menuFile.addAction(self.actionQuit)
        self.menuTasks.addAction(self.actionPause)
        self.menuTasks.addAction(self.actionResume)
        self.menuTasks.addAction(self.actionRetry)
        self.menuTasks.addAction(self.actionCancel)
        self.menuTasks.addSeparator()
        self.menuTasks.addAction(self.actionApprove)
        self.menuTasks.addAction(self.actionReject)
        self.menuTasks.addSeparator()
        self.menuTasks.addAction(self.actionRequeueDeadLetters)
        self.menuTasks.addAction(self.actionScheduleTask)
        self.menuTasks.addSeparator()
        self.menuTasks.addAction(self.actionRemove)
        self.menuTasks.addSeparator()
        self.menuTasks.addAction(self.actionSelectAll)
        self.menuQueue.addAction(self.actionPauseQueue)
        self.menuQueue.addSeparator()
        self.menuQueue.addAction(self.actionSchedules)
        self.menuQueue.addSeparator()
        self.menuQueue.addAction(self.actionRequeueAllDeadLetters)
        self.menuQueue.addAction(self.actionPurgeDeadLetters)
        self.menuView.addAction(self.actionFind)
        self.menuView.addAction(self.menuColumns.menuAction())
        self.menuView.addAction(self.actionDetailPane)
        self.mainToolBar.addAction(self.actionNewTask)
        self.mainToolBar.addSeparator()
        self.mainToolBar.addAction(self.actionPause)
        self.mainToolBar.addAction(self.actionResume)
        self.mainToolBar.addAction(self.actionRetry)
        self.mainToolBar.addAction(self.actionCancel)
        self.mainToolBar.addAction(self.actionRemove)
        self.mainToolBar.addSeparator()
        self.mainToolBar.addAction(self.actionApprove)
        self.mainToolBar.addAction(self.actionReject)
        self.mainToolBar.addSeparator()
        self.mainToolBar.addAction(self.actionPauseQueue)
        self.mainToolBar.addAction(self.actionSchedules)

        self.retranslateUi(MainWindow)

        self.tabs.setCurrentIndex(0)


        QMetaObject.connectSlotsByName(MainWindow)
    # setupUi

    def retranslateUi(self, MainWindow):
        MainWindow.setWindowTitle(QCoreApplication.translate("MainWindow", u"qtqueue", None))
        self.actionNewTask.setText(QCoreApplication.translate("MainWindow", u"&New task\u2026", None))
#if QT_CONFIG(tooltip)
        self.actionNewTask.setToolTip(QCoreApplication.translate("MainWindow", u"Create a task (Ctrl+N)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionNewTask.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+N", None))
#endif // QT_CONFIG(shortcut)
        self.actionPause.setText(QCoreApplication.translate("MainWindow", u"&Pause", None))
#if QT_CONFIG(tooltip)
        self.actionPause.setToolTip(QCoreApplication.translate("MainWindow", u"Hold the selected waiting tasks, suspend the running ones (Ctrl+P)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionPause.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+P", None))
#endif // QT_CONFIG(shortcut)
        self.actionResume.setText(QCoreApplication.translate("MainWindow", u"Res&ume", None))
#if QT_CONFIG(tooltip)
        self.actionResume.setToolTip(QCoreApplication.translate("MainWindow", u"Continue the selected paused tasks (Ctrl+Shift+R)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionResume.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Shift+R", None))
#endif // QT_CONFIG(shortcut)
        self.actionRetry.setText(QCoreApplication.translate("MainWindow", u"&Retry", None))
#if QT_CONFIG(tooltip)
        self.actionRetry.setToolTip(QCoreApplication.translate("MainWindow", u"Run the selected failed, cancelled or timed-out tasks again (Ctrl+R)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionRetry.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+R", None))
#endif // QT_CONFIG(shortcut)
        self.actionCancel.setText(QCoreApplication.translate("MainWindow", u"&Cancel", None))
#if QT_CONFIG(tooltip)
        self.actionCancel.setToolTip(QCoreApplication.translate("MainWindow", u"Cancel the selected tasks; running ones are terminated (Ctrl+K)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionCancel.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+K", None))
#endif // QT_CONFIG(shortcut)
        self.actionRemove.setText(QCoreApplication.translate("MainWindow", u"Re&move", None))
#if QT_CONFIG(tooltip)
        self.actionRemove.setToolTip(QCoreApplication.translate("MainWindow", u"Delete the selected finished tasks and their logs (Del)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionRemove.setShortcut(QCoreApplication.translate("MainWindow", u"Del", None))
#endif // QT_CONFIG(shortcut)
        self.actionPauseQueue.setText(QCoreApplication.translate("MainWindow", u"Pause &queue", None))
#if QT_CONFIG(tooltip)
        self.actionPauseQueue.setToolTip(QCoreApplication.translate("MainWindow", u"Start no new tasks until the queue is resumed; running tasks go on (Ctrl+Shift+P)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionPauseQueue.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Shift+P", None))
#endif // QT_CONFIG(shortcut)
        self.actionApprove.setText(QCoreApplication.translate("MainWindow", u"&Approve", None))
#if QT_CONFIG(tooltip)
        self.actionApprove.setToolTip(QCoreApplication.translate("MainWindow", u"Let the selected tasks that await approval run (Ctrl+Shift+A)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionApprove.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Shift+A", None))
#endif // QT_CONFIG(shortcut)
        self.actionReject.setText(QCoreApplication.translate("MainWindow", u"Re&ject\u2026", None))
#if QT_CONFIG(tooltip)
        self.actionReject.setToolTip(QCoreApplication.translate("MainWindow", u"Refuse the selected tasks that await approval, with an optional reason (Ctrl+Shift+X)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionReject.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Shift+X", None))
#endif // QT_CONFIG(shortcut)
        self.actionRequeueDeadLetters.setText(QCoreApplication.translate("MainWindow", u"Re&queue dead letters", None))
#if QT_CONFIG(tooltip)
        self.actionRequeueDeadLetters.setToolTip(QCoreApplication.translate("MainWindow", u"Queue the selected dead letters again (Ctrl+Shift+Q)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionRequeueDeadLetters.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Shift+Q", None))
#endif // QT_CONFIG(shortcut)
        self.actionScheduleTask.setText(QCoreApplication.translate("MainWindow", u"Sc&hedule\u2026", None))
#if QT_CONFIG(tooltip)
        self.actionScheduleTask.setToolTip(QCoreApplication.translate("MainWindow", u"Make a recurring schedule that adds a task like the selected one (Ctrl+Shift+S)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionScheduleTask.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Shift+S", None))
#endif // QT_CONFIG(shortcut)
        self.actionSchedules.setText(QCoreApplication.translate("MainWindow", u"&Schedules\u2026", None))
#if QT_CONFIG(tooltip)
        self.actionSchedules.setToolTip(QCoreApplication.translate("MainWindow", u"Recurring tasks: add, edit, pause, run now, delete (Ctrl+Shift+H)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionSchedules.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Shift+H", None))
#endif // QT_CONFIG(shortcut)
        self.actionRequeueAllDeadLetters.setText(QCoreApplication.translate("MainWindow", u"Requeue &all dead letters\u2026", None))
#if QT_CONFIG(tooltip)
        self.actionRequeueAllDeadLetters.setToolTip(QCoreApplication.translate("MainWindow", u"Queue every dead-lettered task again", None))
#endif // QT_CONFIG(tooltip)
        self.actionPurgeDeadLetters.setText(QCoreApplication.translate("MainWindow", u"P&urge dead letters\u2026", None))
#if QT_CONFIG(tooltip)
        self.actionPurgeDeadLetters.setToolTip(QCoreApplication.translate("MainWindow", u"Delete every dead-lettered task and its log", None))
#endif // QT_CONFIG(tooltip)
        self.actionSelectAll.setText(QCoreApplication.translate("MainWindow", u"Select &all", None))
#if QT_CONFIG(shortcut)
        self.actionSelectAll.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+A", None))
#endif // QT_CONFIG(shortcut)
        self.actionFind.setText(QCoreApplication.translate("MainWindow", u"&Find\u2026", None))
#if QT_CONFIG(tooltip)
        self.actionFind.setToolTip(QCoreApplication.translate("MainWindow", u"Search tasks by name, id or parameters (Ctrl+F)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionFind.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+F", None))
#endif // QT_CONFIG(shortcut)
        self.actionDetailPane.setText(QCoreApplication.translate("MainWindow", u"&Detail pane", None))
#if QT_CONFIG(tooltip)
        self.actionDetailPane.setToolTip(QCoreApplication.translate("MainWindow", u"Show or hide the selected task's details beside the list (Ctrl+Shift+D)", None))
#endif // QT_CONFIG(tooltip)
#if QT_CONFIG(shortcut)
        self.actionDetailPane.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Shift+D", None))
#endif // QT_CONFIG(shortcut)
        self.actionQuit.setText(QCoreApplication.translate("MainWindow", u"&Quit", None))
#if QT_CONFIG(shortcut)
        self.actionQuit.setShortcut(QCoreApplication.translate("MainWindow", u"Ctrl+Q", None))
#endif // QT_CONFIG(shortcut)
        self.searchBox.setPlaceholderText(QCoreApplication.translate("MainWindow", u"Search name, id or parameters\u2026", None))
        self.filterStatusLabel.setText(QCoreApplication.translate("MainWindow", u"&Status:", None))
#if QT_CONFIG(tooltip)
        self.filterStatus.setToolTip(QCoreApplication.translate("MainWindow", u"Show only tasks in these states", None))
#endif // QT_CONFIG(tooltip)
        self.filterTypeLabel.setText(QCoreApplication.translate("MainWindow", u"&Type:", None))
#if QT_CONFIG(tooltip)
        self.filterType.setToolTip(QCoreApplication.translate("MainWindow", u"Show only tasks of this type", None))
#endif // QT_CONFIG(tooltip)
        self.filterCategoryLabel.setText(QCoreApplication.translate("MainWindow", u"&Category:", None))
#if QT_CONFIG(tooltip)
        self.filterCategory.setToolTip(QCoreApplication.translate("MainWindow", u"Show only tasks in this category", None))
#endif // QT_CONFIG(tooltip)
        self.filterTagLabel.setText(QCoreApplication.translate("MainWindow", u"T&ag:", None))
#if QT_CONFIG(tooltip)
        self.filterTag.setToolTip(QCoreApplication.translate("MainWindow", u"Show only tasks with this tag", None))
#endif // QT_CONFIG(tooltip)
        self.shownLabel.setText("")
        self.tabs.setTabText(self.tabs.indexOf(self.tasksTab), QCoreApplication.translate("MainWindow", u"Tasks", None))
        self.statTotalCaption.setText(QCoreApplication.translate("MainWindow", u"Tasks in the store", None))
        self.statTotal.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statRunningCaption.setText(QCoreApplication.translate("MainWindow", u"Running", None))
        self.statRunning.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statQueuedCaption.setText(QCoreApplication.translate("MainWindow", u"Waiting in the queue", None))
        self.statQueued.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statCompletedCaption.setText(QCoreApplication.translate("MainWindow", u"Completed", None))
        self.statCompleted.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statFailedCaption.setText(QCoreApplication.translate("MainWindow", u"Failed or timed out", None))
        self.statFailed.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statSuccessRateCaption.setText(QCoreApplication.translate("MainWindow", u"Success rate", None))
        self.statSuccessRate.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statAverageDurationCaption.setText(QCoreApplication.translate("MainWindow", u"Average duration", None))
        self.statAverageDuration.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statDeadLettersCaption.setText(QCoreApplication.translate("MainWindow", u"Dead letters", None))
        self.statDeadLetters.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statConcurrencyCaption.setText(QCoreApplication.translate("MainWindow", u"Running at most", None))
        self.statConcurrency.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.statQueueStateCaption.setText(QCoreApplication.translate("MainWindow", u"Queue", None))
        self.statQueueState.setText(QCoreApplication.translate("MainWindow", u"\u2013", None))
        self.tabs.setTabText(self.tabs.indexOf(self.statsTab), QCoreApplication.translate("MainWindow", u"Statistics", None))
        self.menuFile.setTitle(QCoreApplication.translate("MainWindow", u"&File", None))
        self.menuTasks.setTitle(QCoreApplication.translate("MainWindow", u"&Tasks", None))
        self.menuQueue.setTitle(QCoreApplication.translate("MainWindow", u"&Queue", None))
        self.menuView.setTitle(QCoreApplication.translate("MainWindow", u"&View", None))
        self.menuColumns.setTitle(QCoreApplication.translate("MainWindow", u"&Columns", None))
        self.mainToolBar.setWindowTitle(QCoreApplication.translate("MainWindow", u"Main toolbar", None))
    # retranslateUi

