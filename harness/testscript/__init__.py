"""FHIR R4 TestScript execution against a SUT (`kcert testscript run`).

Layer: beside the session, under the front doors. `run` uses the session (SUT lifecycle) and
the report writer; everything else here uses only transports, fhir, validators and model
objects, and nothing here imports the reference LPS.

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
a reply or a forward of an earlier message, or any message but a CareCommunication (the test
agent API can ask only for a new CareCommunication or a referral); the SUT reading anything
but a message; search or delete on kcert's mailbox by other search parameters than `_id` and
`message.destination-uri`. A SUT whose test agent has no outbox operation (404/405) gets an
error "unsupported by the SUT: …". Fixture `autocreate`/`autodelete` and
`TestScript.metadata` capabilities are not acted on.

MedCom corpus (45 scripts, 102 kcert test cases counting each setup) against the clean
reference LPS. The fixture files the scripts name (`../Fixtures/CareCommunication-fixture*.xml`,
`/FHIRSandbox/.../Acknowledgement-fixture-*.xml`, `HospitalNotification-fixture-STIN-*.xml`)
are not published with them, so without `--fixtures-map` every setup errs naming the missing
file. With the acknowledgement fixtures mapped to the three Bundles inside
`acknowledgementtestscript-2.0.0.tgz`, the CareCommunication ones to a message for the SUT, and
the corpus FHIR packages given (`--package`, for validateProfileId):
- pass (49): Acknowledgement receive-* (7 setups, 11 reads: the SUT receives an
  acknowledgement); the first test of the 13 CareCommunication scripts with a setup
  (send-forward-*, send-reply-add-attachment/-attachment/-changecategory/-changetopic/-message,
  tec-01, tec-06: the SUT receives the message it is then to answer) with their setups; and the
  SUT sending a new message in send-new-message, -new-category-other, -new-topic, -tec-03 and the
  first test of -reply-new. The scripts only ask for HTTP 200/201 of a delivery; kcert notes
  the acknowledgement code beside each read (the reference LPS answers acknowledgements it is
  sent with fatal-error: it receives only CareCommunication);
- fail (13): the SUT sending a new message whose content the test agent cannot ask for, judged
  on what the reference LPS sent (text only, category other, a CPR patient): the 9
  send-new-attachment-* (no attachment), -new-priority (category regarding-referral, priority),
  -tec-02 (sender extension, recipient), -tec-04 (a patient without CPR), -tec-05 (an
  Encounter with an episode-of-care identifier);
- unsupported (16): the SUT replying to or forwarding an earlier message (the second test of
  the 13 scripts with a setup, of send-reply-new, and both tests of send-reply-forward): "the
  SUT is to send a reply-message/forward-message …, and the test agent API can ask only for a
  new message";
- not run (24): Acknowledgement send-*: their setup needs HospitalNotification fixtures that
  are in no corpus package (and the reference LPS does not receive HospitalNotification).
Without the packages every validateProfileId assert errs "not run: pack missing", which makes
each of the 18 send-new tests an error.
"""
