"""FHIR R4 TestScript execution against a SUT (`kcert testscript run`).

Layer: just above the runner, below the session. A script is a protocol (`protocol`: one
test case per setup/test/teardown, one step per action) run by the one runner
(`harness.runner.engine.Runner`) like any other: its operations and asserts are the registered
actions and checks `testscript-operation` and `testscript-assert` (`steps`), the script's state
(fixtures, variables, the calls so far, kcert's mailbox) the runner's per-protocol
`ActionContext.shared`. So the same events, error ladder, progress display, run store,
resume, rejudge and diff hold for it; `run.ScriptSuite` is what the run store keeps to rebuild
the scripts, `testreport` the FHIR TestReport derived from a script's results. The session's
run path (`harness.session.runpath`) opens the store, runs and writes the reports. Nothing
here imports the reference LPS.

Roles. A script whose operations name no `origin` treats the SUT as the FHIR server and kcert
as the client. MedCom's TouchStone scripts name `origin` 1 (the SUT, a FHIR client) and
`destination` 1 (TouchStone's server): kcert then plays that server. Operations without
origin act on kcert's mailbox (placing or removing fixtures); the SUT `read`ing a message
from the mailbox is delivered to it with `POST {fhir}/$process-message`. The SUT's
acknowledgement of a delivery is the answer kcert already holds. Any other message the SUT
sends (a `create` with origin) is asked of its test agent (`POST {agent}/outbox/send`, kcert's
receiving peer on 127.0.0.1 as the receiver); the peer answers with an ok acknowledgement and
the message that arrived (an inbound exchange in the evidence) is the operation's request,
the peer's answer its response, and the operation's sourceId fixture is bound to it. Details
in `operations` and `sending`.

Supported: fixtures (fixtures map, relative paths inside the folder tree, a file name found
once in the tree, `file.tgz#member`, contained `#id`), variables (expression, headerField,
path, defaultValue; `${kcert-fhir-base}` and `${kcert-agent-base}` name the SUT's endpoints),
setup/test/teardown, operations create, read, vread, update, updateCreate, delete (also
conditional), search, history, transaction, batch, capabilities, process-message and a bare
`method`; the SUT sending a new CareCommunication; asserts response, responseCode,
contentType, expression, path (XPath on XML, a JSONPath subset on JSON), validateProfileId
(installed fhir-package packs or `--package`), resource, headerField, requestMethod,
requestURL, minimumId, compareToSourceId with compareToSourceExpression/Path, navigationLinks;
every operator; stopTestOnFail; warningOnly (a failure is then F4, else F2).

Unsupported, each reported as an error verdict "unsupported: … (file:section.action[n])":
operations patch, validate and other codes; `url` outside the SUT's endpoints; the SUT sending
any message but a CareCommunication (the test agent API can ask for a CareCommunication or a
referral); the SUT reading anything but a message; search or delete on kcert's mailbox by
other search parameters than `_id` and `message.destination-uri`. A SUT whose test agent has
no outbox operation (404/405) gets an error "unsupported by the SUT: …". Fixture
`autocreate`/`autodelete` and `TestScript.metadata` capabilities are not acted on.

What the SUT is to send is read from the test's asserts (`asking`) and asked of its test agent
(agent API 1.4.0): a reply or forward of the message the asserts name (else the script's
latest; with none, kcert first delivers its own CareCommunication), attachments (kcert's own
small files, `samples`, checked on arrival: content, Attachment.size and SHA-1 hash), category,
topic, priority, an Encounter with an episode-of-care identifier, a specific sender and
recipient. A count compared with a string literal (`payload.count() = '2'`, as MedCom writes
it) is compared as numbers, as TouchStone does, and the assert's message says so. A script
that has the SUT receive a standard outside the LPS role (HospitalNotification, `roles`) is
skipped, each case naming why.

MedCom corpus (45 scripts, 102 kcert test cases counting each setup) against the clean
reference LPS. The fixture files the scripts name are not published with them; kcert needs,
once each: `Acknowledgement-fixture-ok.xml`, `-transient-error.xml`, `-fatal-error.xml` (the
three Bundles inside `acknowledgementtestscript-2.0.0.tgz` serve), `CareCommunication-fixture.xml`,
`-fixture-attachment.xml`, `-fixture-new-message-all.xml` (corpus examples re-addressed to the
SUT serve: R-Tek-E, R-A-new, S-Tek-B), and `HospitalNotification-fixture-STIN-ok.xml`,
`-fatal-error.xml`, `-transient-error.xml` (in no corpus package; not needed for the LPS
role). `CareCommunication-fixture-empty.xml` and `-fixture-forward.xml` are only templates of
what the SUT sends and need no file. Without `--fixtures-map` every setup errs naming the
missing file (`kcert testscript run` lists the missing files once before it starts). Mapped
by `python -m harness.testscript.corpusmap ../shared/corpus OUT` (as the corpus tests do), with
the corpus FHIR packages given (`--package`, for validateProfileId):
- pass (74): every Acknowledgement receive test and every CareCommunication test but these;
- fail (1): send-tec-01 (4 payloads expected after a reply to its fixture, where send-tec-06
  expects 2 from the same fixture: no one fixture satisfies both);
- error (3): script defects: send-forward-changetopic and -forward-partialthread use
  `${hospitalSOR-new-message}`, send-reply-forward `${messageHeaderid-new-message-01}`, which
  they do not define;
- skipped (24): the six Acknowledgement send-* scripts: the SUT would receive a
  HospitalNotification, which goes from hospitals to municipalities, not to a general practice.
Before agent API 1.4.0 the same run gave 49 pass, 13 fail, 16 unsupported, 24 not run.
"""
