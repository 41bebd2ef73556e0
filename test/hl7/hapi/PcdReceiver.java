/*
 * The hospital's side of the HL7 outputs (issue 21): HAPI HL7 v2 2.5.1 as the interface engine
 * (IHE PCD-01 Device Observation Consumer) and the alert manager (PCD-04 Alert Consumer). Listens on
 * MLLP with HAPI's own server (HapiContext.newServer), which parses every message with HAPI's v2.6
 * model and DefaultValidation before the application sees it. The application checks that the
 * parse placed every segment where ORU_R01 puts it (PID, PV1, OBR, and one OBSERVATION per OBX of
 * the raw text, nothing left over as a non-standard segment) and answers AA; a message that fails
 * HAPI's parse or validation is answered AE by HAPI's exception handler with the error in ERR and
 * MSA-3. Run by test/hl7/pcd.test.ts as a single-file program:
 *
 *   java -cp <hapi classpath> PcdReceiver.java PORT
 *
 * Output: one line per message on stdout, tab-separated:
 *   ok|bad  MSH-9 (type^trigger)  MSH-10  PV1-3 (poc^room^bed)  OBX count  OBX-3.2 of the first OBX  error
 */
import ca.uhn.hl7v2.AcknowledgmentCode;
import ca.uhn.hl7v2.DefaultHapiContext;
import ca.uhn.hl7v2.HL7Exception;
import ca.uhn.hl7v2.HapiContext;
import ca.uhn.hl7v2.app.HL7Service;
import ca.uhn.hl7v2.model.Message;
import ca.uhn.hl7v2.model.v26.group.ORU_R01_ORDER_OBSERVATION;
import ca.uhn.hl7v2.model.v26.message.ORU_R01;
import ca.uhn.hl7v2.protocol.ReceivingApplication;
import ca.uhn.hl7v2.protocol.ReceivingApplicationExceptionHandler;
import ca.uhn.hl7v2.protocol.impl.ApplicationRouterImpl;
import ca.uhn.hl7v2.util.Terser;
import ca.uhn.hl7v2.validation.impl.ValidationContextFactory;
import java.util.Map;

public class PcdReceiver {
  static synchronized void line(String... f) {
    System.out.println(String.join("\t", f));
    System.out.flush();
  }

  static String nz(String s) { return s == null ? "" : s; }

  static String clean(String s) { return nz(s).replace('\t', ' ').replace('\r', ' ').replace('\n', ' '); }

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    HapiContext ctx = new DefaultHapiContext();
    ctx.setValidationContext(ValidationContextFactory.defaultValidation());
    HL7Service server = ctx.newServer(port, false);
    server.registerApplication(new ReceivingApplication<Message>() {
      public Message processMessage(Message msg, Map<String, Object> meta) throws HL7Exception {
        String raw = nz((String) meta.get(ApplicationRouterImpl.RAW_MESSAGE_KEY));
        Terser t = new Terser(msg);
        String type = t.get("/MSH-9-1") + "^" + t.get("/MSH-9-2");
        String id = nz(t.get("/MSH-10"));
        String problem = check(msg, raw);
        if (!(msg instanceof ORU_R01)) problem = "not parsed as ORU_R01 but " + msg.getName();
        String loc = "", first = "";
        int obx = 0;
        if (msg instanceof ORU_R01 oru) {
          loc = oru.getPATIENT_RESULT().getPATIENT().getVISIT().getPV1().getAssignedPatientLocation().encode();
          for (ORU_R01_ORDER_OBSERVATION o : oru.getPATIENT_RESULT().getORDER_OBSERVATIONAll()) obx += o.getOBSERVATIONReps();
          if (obx > 0) first = nz(oru.getPATIENT_RESULT().getORDER_OBSERVATION().getOBSERVATION(0).getOBX().getObservationIdentifier().getText().getValue());
        }
        line(problem == null ? "ok" : "bad", type, id, clean(loc), String.valueOf(obx), first, clean(problem));
        try {
          if (problem != null) return msg.generateACK(AcknowledgmentCode.AE, new HL7Exception(problem));
          return msg.generateACK();
        } catch (java.io.IOException e) {
          throw new HL7Exception(e);
        }
      }

      public boolean canProcess(Message msg) { return true; }
    });
    server.setExceptionHandler(new ReceivingApplicationExceptionHandler() {
      public String processException(String incoming, Map<String, Object> meta, String outgoing, Exception e) {
        String id = "";
        String type = "";
        for (String seg : nz(incoming).split("\r")) {
          if (seg.startsWith("MSH")) {
            String[] f = seg.split("\\|", -1);
            type = f.length > 8 ? f[8] : "";
            id = f.length > 9 ? f[9] : "";
          }
        }
        line("bad", clean(type), clean(id), "", "0", "", clean(e.toString()));
        return outgoing; // HAPI's error ACK (AE, the exception in ERR)
      }
    });
    server.startAndWait();
    line("listening", String.valueOf(port));
    Thread.currentThread().join();
  }

  /** Every segment of the raw text found at its place: PID, PV1, OBR, one OBSERVATION per OBX; no non-standard segments. */
  static String check(Message msg, String raw) throws HL7Exception {
    if (!(msg instanceof ORU_R01 oru)) return null;
    int rawObx = 0;
    for (String seg : raw.split("\r")) if (seg.startsWith("OBX|")) rawObx++;
    int obx = 0;
    for (ORU_R01_ORDER_OBSERVATION o : oru.getPATIENT_RESULT().getORDER_OBSERVATIONAll()) {
      obx += o.getOBSERVATIONReps();
      if (o.getOBR().getSetIDOBR().getValue() == null) return "OBR not found";
    }
    if (obx != rawObx) return "OBX in the raw message: " + rawObx + ", in ORU_R01's OBSERVATION groups: " + obx;
    if (oru.getPATIENT_RESULT().getPATIENT().getPID().getPatientIdentifierList(0).getIDNumber().getValue() == null) return "PID-3 not found";
    if (oru.getPATIENT_RESULT().getPATIENT().getVISIT().getPV1().getAssignedPatientLocation().encode().isEmpty()) return "PV1-3 not found";
    String profile = oru.getMSH().getMessageProfileIdentifier(0).getEntityIdentifier().getValue();
    if (profile == null || !profile.startsWith("IHE_PCD_")) return "MSH-21 is not an IHE PCD profile: " + profile;
    return null;
  }
}
