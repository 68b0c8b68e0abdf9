*** Settings ***
Documentation    Stand-ins for the Renode 1.15 keywords that edge-deploy's generated suites use, so that
...    `robot --dryrun --variable RENODEKEYWORDS:<this file> suite.robot` checks a suite without Renode:
...    its syntax, its keyword names and the arguments Robot Framework binds. The signatures are
...    Renode's (src/Renode/RobotFrameworkEngine/UartKeywords.cs and RenodeKeywords.cs, the user
...    keywords of tests/renode-keywords.robot); the bodies do nothing. Renode's own reading of
...    `name=value` arguments is checked by tests/test_renode_suite.py against these signatures.

*** Keywords ***
Setup
    No Operation

Teardown
    No Operation

Test Setup
    No Operation

Test Teardown
    No Operation

Reset Emulation
    No Operation

Start Emulation
    No Operation

Execute Command
    [Arguments]    ${command}    ${machine}=${None}
    No Operation

Create Terminal Tester
    [Arguments]    ${uart}    ${timeout}=${None}    ${machine}=${None}    ${endLineOption}=${None}
    ...    ${defaultPauseEmulation}=${None}    ${defaultMatchNextLine}=${None}
    No Operation

Wait For Line On Uart
    [Arguments]    ${content}    ${timeout}=${None}    ${testerId}=${None}    ${treatAsRegex}=${False}
    ...    ${includeUnfinishedLine}=${False}    ${pauseEmulation}=${None}    ${matchNextLine}=${None}
    No Operation
